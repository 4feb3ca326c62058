package lifecycle_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

func TestShutdownClosesEveryConnectionWith1001(t *testing.T) {
	const total = 1000
	opened := make(chan struct{}, total)
	h := newHarness(t, connx.Config{}, func(c *lifecycle.Conn) {
		opened <- struct{}{}
		conntest.Echo(c)
	})
	type seen struct {
		code   int
		reason string
		err    error
	}
	results := make(chan seen, total)
	var clients sync.WaitGroup
	for range total {
		c := h.dial()
		clients.Go(func() {
			f, _, err := c.ReadUntilClose(20 * time.Second)
			if err == nil {
				c.WriteClose(f.CloseCode(), "")
				_, err = c.WaitEOF(10 * time.Second)
			}
			results <- seen{f.CloseCode(), f.CloseReason(), err}
		})
	}
	for range total {
		<-opened
	}
	if n := h.reg.Len(); n != total {
		t.Fatalf("registry holds %d, want %d", n, total)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := h.reg.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Shutdown returned: every hook has run.
	if len(h.closed) != total {
		t.Fatalf("%d OnClose hooks had run when Shutdown returned, want %d", len(h.closed), total)
	}
	for range total {
		info := <-h.closed
		if info.Code != lifecycle.StatusGoingAway || info.Reason != "server shutting down" ||
			!errors.Is(info.Cause, lifecycle.ErrServerShutdown) || !info.HandshakeComplete {
			t.Fatalf("info = %+v", info)
		}
	}
	clients.Wait()
	for range total {
		s := <-results
		if s.err != nil || s.code != 1001 || s.reason != "server shutting down" {
			t.Fatalf("client saw %+v", s)
		}
	}
	if h.reg.Len() != 0 {
		t.Fatalf("registry still holds %d", h.reg.Len())
	}
}

func TestShutdownIsNotHeldByAPeerThatIgnoresClose(t *testing.T) {
	opened := make(chan struct{}, 2)
	h := newHarness(t, connx.Config{CloseTimeout: time.Hour}, func(c *lifecycle.Conn) {
		opened <- struct{}{}
		conntest.Echo(c)
	})
	polite := h.dial()
	deaf := h.dial() // never reads, never answers
	<-opened
	<-opened
	go func() {
		f, _, err := polite.ReadUntilClose(10 * time.Second)
		if err == nil {
			polite.WriteClose(f.CloseCode(), "")
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := h.reg.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the deadline", err)
	}
	infos := []lifecycle.CloseInfo{h.next(), h.next()}
	complete := 0
	for _, info := range infos {
		if info.Code != lifecycle.StatusGoingAway {
			t.Fatalf("info = %+v", info)
		}
		if info.HandshakeComplete {
			complete++
		}
	}
	if complete != 1 {
		t.Fatalf("%d completed handshakes, want 1 (the polite peer)", complete)
	}
	if _, err := deaf.WaitEOF(5 * time.Second); err != nil {
		t.Fatalf("the deaf peer's TCP was not closed: %v", err)
	}
}

func TestAddAfterShutdownIsRefused(t *testing.T) {
	h := newHarness(t, connx.Config{}, conntest.Echo)
	h.reg.Shutdown(context.Background())
	c, err := wstest.DialRaw(h.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, _, err := c.ReadUntilClose(5 * time.Second)
	if err != nil || f.CloseCode() != 1001 {
		t.Fatalf("a connection made during the drain: %d %v", f.CloseCode(), err)
	}
	c.WriteClose(1001, "")
	h.next()
}

// A thousand peers that never answer the Close: Shutdown keeps its
// deadline within a few milliseconds per thousand connections, and every
// hook has run when it returns.
func TestShutdownOfAThousandDeafPeersKeepsItsDeadline(t *testing.T) {
	const total = 1000
	opened := make(chan struct{}, total)
	h := newHarness(t, connx.Config{}, func(c *lifecycle.Conn) {
		opened <- struct{}{}
		conntest.Echo(c)
	})
	for range total {
		h.dial() // never reads, never answers
	}
	for range total {
		<-opened
	}
	const bound = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	start := time.Now()
	err := h.reg.Shutdown(ctx)
	over := time.Since(start) - bound
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v", err)
	}
	t.Logf("Shutdown of %d deaf peers returned %v after its deadline", total, over)
	if over > 400*time.Millisecond { // generous: -race on a loaded 2-core machine; the figure is logged
		t.Fatalf("Shutdown outlasted its context by %v", over)
	}
	if n := len(h.closed); n != total {
		t.Fatalf("%d hooks had run when Shutdown returned", n)
	}
	for range total {
		if info := h.next(); info.Code != lifecycle.StatusGoingAway || info.HandshakeComplete {
			t.Fatalf("info %+v", info)
		}
	}
}

// WithDrainSpread closes in batches over the window, and the window is cut
// to fit the shutdown's context.
func TestDrainSpreadsItsClosesOverTheWindow(t *testing.T) {
	for _, tc := range []struct {
		name          string
		spread, bound time.Duration
		wantSpan      time.Duration // at least
	}{
		{"window fits", 800 * time.Millisecond, 5 * time.Second, 600 * time.Millisecond},
		{"window cut by the context", 10 * time.Second, 1200 * time.Millisecond, 600 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const total = 40
			opened := make(chan struct{}, total)
			h := newHarness(t, connx.Config{}, func(c *lifecycle.Conn) {
				opened <- struct{}{}
				conntest.Echo(c)
			}, lifecycle.WithDrainSpread(tc.spread))
			closedAt := make(chan time.Time, total)
			for range total {
				c := h.dial()
				go func() {
					f, _, err := c.ReadUntilClose(20 * time.Second)
					if err != nil || f.CloseCode() != 1001 {
						closedAt <- time.Time{}
						return
					}
					closedAt <- time.Now()
					c.WriteClose(1001, "")
				}()
			}
			for range total {
				<-opened
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.bound)
			defer cancel()
			start := time.Now()
			if err := h.reg.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if took := time.Since(start); took > tc.bound {
				t.Fatalf("Shutdown took %v with a %v context", took, tc.bound)
			}
			var first, last time.Time
			perTenth := map[int]int{}
			for range total {
				at := <-closedAt
				if at.IsZero() {
					t.Fatal("a client did not get 1001")
				}
				if first.IsZero() || at.Before(first) {
					first = at
				}
				if at.After(last) {
					last = at
				}
				window := min(tc.spread, tc.bound-min(time.Second, tc.bound/4))
				perTenth[int(at.Sub(start)/(window/10))]++
			}
			if span := last.Sub(first); span < tc.wantSpan {
				t.Fatalf("closes spread over %v, want at least %v", span, tc.wantSpan)
			}
			for slot, n := range perTenth {
				if n > total/3 {
					t.Fatalf("%d of %d closes in slot %d: not spread", n, total, slot)
				}
			}
		})
	}
}

// The contract that replaced the stack walk: Shutdown does not wait for
// OnClose hooks already running when it is called (the caller may be one of
// them), and waits for every other connection's end and hooks.
func TestShutdownDoesNotWaitForHooksAlreadyRunning(t *testing.T) {
	release := make(chan struct{})
	blocked := make(chan struct{})
	var first atomic.Bool
	h := newHarness(t, connx.Config{}, func(c *lifecycle.Conn) {
		c.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) {
			if first.CompareAndSwap(false, true) {
				close(blocked)
				<-release
			}
		})
		conntest.Echo(c)
	})
	defer close(release)
	a, b := h.dial(), h.dial()
	wstest.WaitFor(t, "2 registered connections", 5*time.Second, func() bool { return h.reg.Len() == 2 })
	a.WriteClose(4000, "bye")
	<-blocked // a's hook runs, and waits
	go func() {
		f, _, err := b.ReadUntilClose(5 * time.Second)
		if err == nil {
			b.WriteClose(f.CloseCode(), "")
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.reg.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a hook blocked since before it: %v", err)
	}
	if info := h.next(); info.Code != 4000 {
		t.Fatalf("a ended with %+v, want the peer's 4000", info)
	}
	select {
	case info := <-h.closed:
		if info.Code != lifecycle.StatusGoingAway {
			t.Fatalf("b ended with %+v, want 1001", info)
		}
	default:
		t.Fatal("Shutdown returned before b's hooks ran")
	}
}
