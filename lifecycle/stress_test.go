package lifecycle_test

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

var errTimerCause = errors.New("server timer")

// TestExactlyOnceUnderRaces races, on each of 1,000 connections, a server
// timer, the peer's Close, the handler's return and 8 goroutines calling
// Close, and checks that exactly one OnClose ran per connection with a
// CloseInfo consistent with its initiator.
func TestExactlyOnceUnderRaces(t *testing.T) {
	const total, batch = 1000, 100
	var closers sync.WaitGroup
	h := newHarness(t, connx.Config{CloseTimeout: 2 * time.Second}, func(c *lifecycle.Conn) {
		jitter := func() time.Duration { return time.Duration(rand.IntN(2000)) * time.Microsecond }
		afterFunc(c, jitter(), func() { c.CloseWith(errTimerCause, 4001, "timer") })
		for i := range 8 {
			closers.Go(func() {
				yieldRandomly()
				c.Close(lifecycle.StatusCode(4010+i), "goroutine")
			})
		}
		if rand.IntN(2) == 0 {
			c.ReadMessage()
		}
		// return: the handler's own close (1000) joins the race
	})
	for start := 0; start < total; start += batch {
		var clients sync.WaitGroup
		for range batch {
			clients.Go(func() {
				c, err := wstest.DialRaw(h.url, nil)
				if err != nil {
					t.Errorf("dial: %v", err)
					return
				}
				defer c.Close()
				yieldRandomly()
				c.WriteClose(4100, "peer")
				c.WaitEOF(10 * time.Second)
			})
		}
		clients.Wait()
	}
	infos := make([]lifecycle.CloseInfo, 0, total)
	for range total {
		infos = append(infos, h.next())
	}
	closers.Wait()
	h.reg.Shutdown(t.Context())
	select {
	case extra := <-h.closed:
		t.Fatalf("an extra OnClose: %+v", extra)
	default:
	}
	h.mu.Lock()
	if len(h.hooks) != total {
		t.Errorf("%d connections saw OnClose, want %d", len(h.hooks), total)
	}
	for c, n := range h.hooks {
		if n != 1 {
			t.Errorf("%p: %d OnClose calls", c, n)
		}
	}
	h.mu.Unlock()
	counts := map[string]int{}
	for _, info := range infos {
		checkConsistent(t, info)
		counts[info.Initiator.String()+" "+info.Code.String()]++
	}
	t.Logf("outcomes over %d connections: %v", total, counts)
}

// yieldRandomly lets other goroutines run a random number of times, to
// spread the race's contenders over different orders.
func yieldRandomly() {
	for range rand.IntN(200) {
		runtime.Gosched()
	}
}

func checkConsistent(t *testing.T, info lifecycle.CloseInfo) {
	t.Helper()
	switch info.Initiator {
	case lifecycle.InitiatorPeer:
		if info.Code != 4100 || !errors.Is(info.Cause, lifecycle.ErrPeerClosed) || info.Received == nil || info.Received.Code != 4100 {
			t.Errorf("peer close: %+v", info)
		}
	case lifecycle.InitiatorLocal:
		want := map[lifecycle.StatusCode]error{4001: errTimerCause, 1000: lifecycle.ErrHandlerReturned}
		for i := range 8 {
			want[lifecycle.StatusCode(4010+i)] = lifecycle.ErrApplicationClose
		}
		cause, ok := want[info.Code]
		if !ok || !errors.Is(info.Cause, cause) {
			t.Errorf("local close: %+v", info)
		}
		if info.Sent != nil && info.Sent.Code != info.Code {
			t.Errorf("sent %d but reported %d", info.Sent.Code, info.Code)
		}
	case lifecycle.InitiatorAbnormal:
		// The transport broke first, or a local close's frame could not
		// be written (then with that close's cause).
		lost := errors.Is(info.Cause, lifecycle.ErrConnectionLost) || errors.Is(info.Cause, errTimerCause) ||
			errors.Is(info.Cause, lifecycle.ErrApplicationClose) || errors.Is(info.Cause, lifecycle.ErrHandlerReturned)
		if info.Code != lifecycle.StatusAbnormalClosure || !lost || info.Sent != nil {
			t.Errorf("abnormal: %+v", info)
		}
	default:
		t.Errorf("no initiator: %+v", info)
	}
}
