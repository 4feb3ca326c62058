package middleware_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/timeout"
)

// blockingEcho is an event-mode echo whose function blocks on a message
// "block" until release is closed, as one waiting on a database that
// hangs would. It records whether two calls ever overlapped on one
// connection.
type blockingEcho struct {
	release  chan struct{}
	inFlight sync.Map // *lifecycle.Conn -> *atomic.Int32
	overlap  atomic.Bool
}

func newBlockingEcho(t *testing.T) *blockingEcho {
	e := &blockingEcho{release: make(chan struct{})}
	t.Cleanup(e.unblock)
	return e
}

func (e *blockingEcho) unblock() {
	select {
	case <-e.release:
	default:
		close(e.release)
	}
}

func (e *blockingEcho) onMessage(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) {
	v, _ := e.inFlight.LoadOrStore(c, new(atomic.Int32))
	n := v.(*atomic.Int32)
	if n.Add(1) > 1 {
		e.overlap.Store(true)
	}
	defer n.Add(-1)
	if string(data) == "block" {
		<-e.release
	}
	c.WriteMessage(mt, data)
}

// withSubject names each connection by its URL's sub parameter.
func withSubject(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, policy.WithSubject(r, r.URL.Query().Get("sub")))
	})
}

// poolWorkers counts the goroutines of the event loop's pools, handed-off
// ones included.
func poolWorkers() int { return wstest.CountGoroutines("evpoll.(*Pool).work")[0] }

// A message function that blocks delays only its own connection: with 200
// functions blocked at once, other connections are echoed promptly; each
// blocked one holds one goroutine (its worker, handed to it), not the
// pool; the messages its peer sent meanwhile follow, in order, one at a
// time, once it returns; and the goroutines end with it.
func TestEventModeBlockedFunctionsStallOnlyTheirOwn(t *testing.T) {
	const blocked, healthy = 200, 20
	echo := newBlockingEcho(t)
	reg := lifecycle.NewRegistry()
	t.Cleanup(func() { reg.Shutdown(t.Context()) })
	url := wstest.Server(t, middleware.EventHandler(reg, echo.onMessage))
	dial := func() *wstest.RawClient {
		c, err := wstest.DialRaw(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	base := poolWorkers()
	stuck := make([]*wstest.RawClient, blocked)
	for i := range stuck {
		stuck[i] = dial()
		var b []byte
		for _, m := range []string{"block", "after-1", "after-2"} { // the later ones wait for the first
			b = wstest.AppendFrame(b, wstest.OpText, true, []byte(m))
		}
		stuck[i].Conn.Write(b)
	}
	wstest.WaitFor(t, "every blocked function to hold a goroutine of its own", 10*time.Second, func() bool {
		return poolWorkers()-base >= blocked
	})

	var wg sync.WaitGroup
	errs := make(chan error, healthy)
	for i := range healthy {
		c := dial()
		wg.Go(func() {
			for j := range 20 {
				msg := fmt.Sprint("echo ", i, " ", j)
				c.WriteText(msg)
				if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != msg {
					errs <- fmt.Errorf("healthy connection %d, message %d: %q %v", i, j, f.Payload, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Hand-offs start spare workers for the work queued meanwhile (more on
	// a loaded machine, where running tasks look blocked too); spares
	// retire after the pool's idle timeout (2 s). What stays is one
	// goroutine per blocked function and the pool's own.
	bound := blocked + 2*runtime.GOMAXPROCS(0) + 4
	if !wstest.Eventually(5*time.Second, func() bool { return poolWorkers()-base <= bound }) {
		t.Errorf("%d pool goroutines for %d blocked functions: more than one each and the pool's own", poolWorkers()-base, blocked)
	}

	echo.unblock()
	for i, c := range stuck {
		for _, want := range []string{"block", "after-1", "after-2"} {
			if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != want {
				t.Fatalf("blocked connection %d: %q %v, want %q", i, f.Payload, err, want)
			}
		}
	}
	if echo.overlap.Load() {
		t.Error("two message functions of one connection ran at once")
	}
	wstest.WaitFor(t, "the handed-off goroutines to end", 10*time.Second, func() bool {
		return poolWorkers()-base <= 2*runtime.GOMAXPROCS(0)+4
	})
}

// With 1,000 message functions blocking at once and a 1 s / 2 s heartbeat,
// the timers still run on time (they have a pool of their own, and the
// message functions' pool hands each blocked worker off within its budget):
// every healthy connection is pinged at its interval throughout, answers,
// and stays open. Before the fix the timers queued behind the blocked
// functions on one pool that grew by a worker per two 10 ms looks, and
// healthy peers were cut for "no pong".
func TestEventModeHeartbeatsWhileFunctionsBlock(t *testing.T) {
	const blocked, healthy = 1000, 20
	const interval, pongTimeout = time.Second, 2 * time.Second
	echo := newBlockingEcho(t)
	reg := lifecycle.NewRegistry()
	t.Cleanup(func() { reg.Shutdown(t.Context()) })
	var mu sync.Mutex
	closed := map[string]lifecycle.CloseInfo{}
	hook := func(c *lifecycle.Conn, info lifecycle.CloseInfo) {
		mu.Lock()
		closed[c.Subject()] = info
		mu.Unlock()
	}
	url := wstest.Server(t, withSubject(middleware.OnClose(hook)(timeout.Heartbeat(interval, pongTimeout)(
		middleware.EventHandler(reg, echo.onMessage, middleware.WithCloseTimeout(500*time.Millisecond))))))
	dial := func(sub string) *wstest.RawClient {
		c, err := wstest.DialRaw(url+"?sub="+sub, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	// The healthy peers answer every ping from before the functions block
	// until after.
	const window = 4 * time.Second // how long the healthy peers watch their pings
	type seen struct {
		pings  int
		maxGap time.Duration
		err    error
	}
	results := make(chan seen, healthy)
	for i := range healthy {
		c := dial(fmt.Sprint("healthy-", i))
		go func() {
			var s seen
			end := time.Now().Add(window)
			last := time.Now()
			for time.Now().Before(end) {
				f, err := c.ReadFrame(5 * time.Second)
				if err != nil || f.Op != wstest.OpPing {
					s.err = fmt.Errorf("frame %+v, %v; want a ping", f, err)
					break
				}
				now := time.Now()
				s.pings++
				s.maxGap = max(s.maxGap, now.Sub(last))
				last = now
				c.WriteFrame(wstest.OpPong, true, f.Payload)
			}
			results <- s
		}()
	}
	// The blocked peers never read: the heartbeat finds them dead, as a
	// read loop blocked in the same function would be.
	base := poolWorkers()
	for i := range blocked {
		dial(fmt.Sprint("blocked-", i)).WriteText("block")
	}
	for range healthy {
		s := <-results
		if s.err != nil {
			t.Fatal(s.err)
		}
		// Generous bounds: a loaded machine is slow, not stopped.
		if s.pings < 3 || s.maxGap > interval+time.Second {
			t.Errorf("a healthy peer saw %d pings in %v, the longest gap %v (interval %v)", s.pings, window, s.maxGap, interval)
		}
	}
	wstest.WaitFor(t, "every blocked function to hold a goroutine of its own", 10*time.Second, func() bool {
		return poolWorkers()-base >= blocked
	})
	mu.Lock()
	defer mu.Unlock()
	for sub, info := range closed {
		if strings.HasPrefix(sub, "healthy") {
			t.Errorf("%s was closed: %+v", sub, info)
		}
	}
}
