//go:build linux

package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// stallGroup is one way a peer may leave an event-mode connection half
// read, played by nopinPerGroup connections.
type stallGroup struct {
	name string
	// play sends what the group sends and checks what comes back; it
	// leaves the connection stalled.
	play func(t *testing.T, c *wstest.RawClient)
	// answers: the client answers the shutdown's Close (its bytes so far
	// end at a frame boundary), so the handshake completes.
	answers bool
}

const nopinPerGroup = 40

// bigMessage is larger than the event mode's read buffer: the buffer grows
// as it arrives.
var bigMessage = bytes.Repeat([]byte("0123456789"), 2*connx.EventBufferSize/10)

// bigFrame is bigMessage as one masked frame (one key for every client, so
// that a client can send the rest of it later).
var bigFrame = wstest.AppendFrame(nil, wstest.OpBinary, true, bigMessage)

func readEcho(t *testing.T, c *wstest.RawClient, op byte, want []byte) {
	t.Helper()
	f, err := c.ReadFrame(5 * time.Second)
	if err != nil || f.Op != op || !bytes.Equal(f.Payload, want) {
		t.Fatalf("want opcode %#x with %d bytes, got %#x with %d bytes, %v", op, len(want), f.Op, len(f.Payload), err)
	}
}

var stallGroups = []stallGroup{
	{"lone pongs and pings", func(t *testing.T, c *wstest.RawClient) {
		for i := range 5 {
			c.WriteFrame(wstest.OpPong, true, []byte("hb"))
			p := []byte(fmt.Sprint("p", i))
			c.WriteFrame(wstest.OpPing, true, p)
			readEcho(t, c, wstest.OpPong, p)
		}
	}, true},
	{"half a header", func(t *testing.T, c *wstest.RawClient) {
		c.Conn.Write(wstest.AppendFrame(nil, wstest.OpText, true, []byte("never finished"))[:1])
	}, false},
	{"half a payload", func(t *testing.T, c *wstest.RawClient) {
		f := wstest.AppendFrame(nil, wstest.OpText, true, bytes.Repeat([]byte("y"), 100))
		c.Conn.Write(f[:len(f)/2])
	}, false},
	{"two messages in one write", func(t *testing.T, c *wstest.RawClient) {
		c.Conn.Write(wstest.AppendFrame(wstest.AppendFrame(nil, wstest.OpText, true, []byte("one")), wstest.OpBinary, true, []byte("two")))
		readEcho(t, c, wstest.OpText, []byte("one"))
		readEcho(t, c, wstest.OpBinary, []byte("two"))
	}, true},
	{"a message and part of the next", func(t *testing.T, c *wstest.RawClient) {
		next := wstest.AppendFrame(nil, wstest.OpText, true, []byte("the next message"))
		c.Conn.Write(append(wstest.AppendFrame(nil, wstest.OpText, true, []byte("first")), next[:5]...))
		readEcho(t, c, wstest.OpText, []byte("first"))
	}, false},
	{"a big message sent slowly", func(t *testing.T, c *wstest.RawClient) {
		for _, part := range [][]byte{bigFrame[:3], bigFrame[3:100], bigFrame[100 : len(bigFrame)/2]} {
			c.Conn.Write(part)
		}
	}, false},
}

// TestEventModeStalledPeersPinNoWorker: hundreds of event-mode connections
// whose peers stop at every awkward place (lone control frames, half a
// header, half a payload, bytes of the next frame left in the buffer, a
// message bigger than the buffer half sent) hold no worker of the shared
// pool: a fresh connection on the same server is echoed promptly, and the
// process holds no goroutine per connection, big messages in flight
// included. At shutdown every connection's OnClose runs once with the
// shutdown's 1001.
func TestEventModeStalledPeersPinNoWorker(t *testing.T) {
	reg := lifecycle.NewRegistry()
	var mu sync.Mutex
	infos := map[string][]lifecycle.CloseInfo{}
	hook := func(c *lifecycle.Conn, info lifecycle.CloseInfo) {
		mu.Lock()
		infos[c.Subject()] = append(infos[c.Subject()], info)
		mu.Unlock()
	}
	subject := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, policy.WithSubject(r, r.URL.Query().Get("sub")))
		})
	}
	const closeTimeout = time.Second
	url := wstest.Server(t, subject(middleware.OnClose(hook)(
		middleware.EventHandler(reg, echoEvents, middleware.WithCloseTimeout(closeTimeout)))))
	subOf := map[*wstest.RawClient]string{}
	dial := func(sub string) *wstest.RawClient {
		t.Helper()
		c, err := wstest.DialRaw(url+"?sub="+strings.ReplaceAll(sub, " ", "+"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		subOf[c] = sub
		return c
	}
	fresh := dial("fresh")
	fresh.WriteText("warm-up") // the loop and its pool run from here on
	readEcho(t, fresh, wstest.OpText, []byte("warm-up"))
	wstest.WaitFor(t, "net/http's connection goroutines to end", 5*time.Second, func() bool {
		return runtime.NumGoroutine() < 200
	})
	base := runtime.NumGoroutine()

	clients := map[string][]*wstest.RawClient{}
	for _, g := range stallGroups {
		for i := range nopinPerGroup {
			c := dial(fmt.Sprint(g.name, " ", i))
			g.play(t, c)
			clients[g.name] = append(clients[g.name], c)
		}
	}
	all := len(stallGroups) * nopinPerGroup

	// Every worker is free: a fresh connection, and the one from before,
	// are echoed at once.
	latecomer := dial("latecomer")
	for i := range 20 {
		for _, c := range []*wstest.RawClient{fresh, latecomer} {
			msg := []byte(fmt.Sprint("prompt ", i))
			start := time.Now()
			c.WriteText(string(msg))
			readEcho(t, c, wstest.OpText, msg)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("an echo took %v with %d stalled connections", d, all)
			}
		}
	}

	// Goroutines: none per connection, big messages in flight included;
	// a pool that did not grow.
	if n := wstest.CountGoroutines("evpoll.(*Pool).work")[0]; n > 2*runtime.GOMAXPROCS(0)+2 {
		t.Errorf("%d pool workers: the pool grew as if workers were pinned", n)
	}
	if n := runtime.NumGoroutine() - base; n > 20 {
		t.Errorf("%d more goroutines for %d stalled connections", n, all)
	}

	// Half the big messages finish, and are echoed.
	answering := map[*wstest.RawClient]bool{fresh: true, latecomer: true}
	for _, g := range stallGroups {
		for _, c := range clients[g.name] {
			answering[c] = g.answers
		}
	}
	for _, c := range clients["a big message sent slowly"][:nopinPerGroup/2] {
		c.Conn.Write(bigFrame[len(bigFrame)/2:])
		readEcho(t, c, wstest.OpBinary, bigMessage)
		answering[c] = true
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var answered sync.WaitGroup
	for c, answers := range answering {
		if !answers {
			continue
		}
		answered.Add(1)
		go func() {
			defer answered.Done()
			if f, _, err := c.ReadUntilClose(5 * time.Second); err == nil {
				c.WriteClose(f.CloseCode(), "")
			}
		}()
	}
	if err := reg.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	answered.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(infos) != all+2 {
		t.Errorf("%d connections ran OnClose, want %d", len(infos), all+2)
	}
	for sub, list := range infos {
		if len(list) != 1 {
			t.Errorf("%s: OnClose ran %d times", sub, len(list))
			continue
		}
		info := list[0]
		answers := false
		for c, a := range answering {
			if subOf[c] == sub {
				answers = a
			}
		}
		if info.Code != lifecycle.StatusGoingAway || info.Initiator != lifecycle.InitiatorLocal ||
			!errors.Is(info.Cause, lifecycle.ErrServerShutdown) || info.Sent == nil || info.Sent.Code != lifecycle.StatusGoingAway ||
			info.HandshakeComplete != answers {
			t.Errorf("%s: %+v; want the shutdown's 1001 sent, handshake complete %v", sub, info, answers)
		}
	}
}
