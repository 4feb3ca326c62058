package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

// totalKey is MaxTotalConns' key in its Store.
const totalKey = "total:all"

// countingStore counts slot acquisitions and calls of their release
// functions: every slot must be released exactly once.
type countingStore struct {
	Store
	mu       sync.Mutex
	acquired int
	released map[int]int // acquisition number → release calls
}

func newCountingStore() *countingStore {
	return &countingStore{Store: NewMemoryStore(), released: map[int]int{}}
}

func (s *countingStore) Acquire(ctx context.Context, key string, max int) (func(), int, error) {
	rel, held, err := s.Store.Acquire(ctx, key, max)
	if rel == nil {
		return rel, held, err
	}
	s.mu.Lock()
	s.acquired++
	n := s.acquired
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		s.released[n]++
		s.mu.Unlock()
		rel()
	}, held, err
}

// settled reports whether every slot was released, and fails on a double
// release.
func (s *countingStore) settled(t testing.TB) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, calls := range s.released {
		if calls > 1 {
			t.Fatalf("slot %d released %d times", n, calls)
		}
	}
	return len(s.released) == s.acquired
}

func (s *countingStore) held(key string) int { return s.Store.(*MemoryStore).Held(key) }

// waitZero waits until every slot taken has been released once and none is
// held.
func waitZero(t *testing.T, st *countingStore, how string) {
	t.Helper()
	wstest.WaitFor(t, "slots to return to zero after "+how, 10*time.Second, func() bool {
		return st.settled(t) && st.held("conns:127.0.0.1") == 0 && st.held(totalKey) == 0
	})
}

func TestMaxConnsRefusesOverTheLimit(t *testing.T) {
	st := newCountingStore()
	s := newTestServer(t, nil, MaxConns(2, WithStore(st), WithRetryAfter(3*time.Second)))
	s.mustDial(from("127.0.0.1"), nil)
	c2 := s.mustDial(from("127.0.0.1"), nil)
	c, err := s.dial(from("127.0.0.1"), nil)
	if statusOf(c) != http.StatusTooManyRequests {
		t.Fatalf("third connection: %v, want 429", err)
	}
	h := c.Response.Header
	if h.Get("Retry-After") != "3" || h.Get("X-RateLimit-Limit") != "2" || h.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("headers: %v", h)
	}
	s.mustDial(from("127.0.0.2"), nil) // another key
	c2.Reset()
	wstest.WaitFor(t, "a slot to free", 10*time.Second, func() bool { return st.held("conns:127.0.0.1") == 1 })
	s.mustDial(from("127.0.0.1"), nil)
}

func TestMaxTotalConns(t *testing.T) {
	st := newCountingStore()
	s := newTestServer(t, nil, MaxTotalConns(2, WithStore(st)), MaxConns(5, WithStore(st)))
	s.mustDial(from("127.0.0.1"), nil)
	s.mustDial(from("127.0.0.2"), nil)
	c, err := s.dial(from("127.0.0.3"), nil)
	if statusOf(c) != http.StatusServiceUnavailable || c.Response.Header.Get("Retry-After") == "" {
		t.Fatalf("third connection: %v, want 503 with Retry-After", err)
	}
	if st.held(totalKey) != 2 {
		t.Fatalf("total held = %d", st.held(totalKey))
	}
}

// Slots return to zero however the connection ends.
func TestMaxConnsReleasedOnEveryEnd(t *testing.T) {
	st := newCountingStore()
	s := newTestServer(t, nil, MaxTotalConns(100, WithStore(st)), MaxConns(10, WithStore(st)))
	held := func(n int) {
		t.Helper()
		if got := st.held("conns:127.0.0.1"); got != n {
			t.Fatalf("held = %d, want %d", got, n)
		}
	}

	c := s.mustDial(from("127.0.0.1"), nil)
	s.conn()
	held(1)
	c.WriteClose(1000, "bye")
	s.nextClose()
	waitZero(t, st, "peer close")

	c = s.mustDial(from("127.0.0.1"), nil)
	s.conn()
	held(1)
	c.Reset()
	if info := s.nextClose(); info.Initiator != lifecycle.InitiatorAbnormal {
		t.Fatalf("reset ended as %v", info.Initiator)
	}
	waitZero(t, st, "reset")

	c = s.mustDial(from("127.0.0.1"), nil)
	s.conn().Close(lifecycle.StatusNormalClosure, "server says bye")
	c.ReadUntilClose(5 * time.Second)
	c.WriteClose(1000, "")
	s.nextClose()
	waitZero(t, st, "server close")

	// Shutdown: the clients answer the server's Close.
	var answered sync.WaitGroup
	for range 3 {
		c := s.mustDial(from("127.0.0.1"), nil)
		s.conn()
		answered.Go(func() {
			if _, _, err := c.ReadUntilClose(10 * time.Second); err == nil {
				c.WriteClose(1001, "")
			}
		})
	}
	held(3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.reg.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	answered.Wait()
	waitZero(t, st, "shutdown")

	// Draining: the Upgrader refuses with 503 after our slot was taken.
	c, err := s.dial(from("127.0.0.1"), nil)
	if statusOf(c) != http.StatusServiceUnavailable {
		t.Fatalf("upgrade while draining: %v, want 503", err)
	}
	waitZero(t, st, "an upgrade refused while draining")
}

// Slots return to zero when the upgrade does not happen or its
// attachments fail.
func TestMaxConnsReleasedOnFailedUpgrade(t *testing.T) {
	st := newCountingStore()
	failing := errors.New("attachment says no")
	failOuter := func(next http.Handler) http.Handler { // before ours: ours never runs
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Fail") == "outer" {
				r = policy.Attach(r, func(*lifecycle.Conn) error { return failing })
			}
			next.ServeHTTP(w, r)
		})
	}
	inner := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Header.Get("X-Fail") {
			case "401":
				http.Error(w, "no", http.StatusUnauthorized)
				return
			case "inner":
				r = policy.Attach(r, func(*lifecycle.Conn) error { return failing })
			case "panic":
				panic(http.ErrAbortHandler)
			}
			next.ServeHTTP(w, r)
		})
	}
	s := newTestServer(t, nil, failOuter, MaxTotalConns(100, WithStore(st)), MaxConns(10, WithStore(st)), inner)

	if c, err := s.dial(from("127.0.0.1"), http.Header{"X-Fail": {"401"}}); statusOf(c) != http.StatusUnauthorized {
		t.Fatalf("later policy: %v, want 401", err)
	}
	waitZero(t, st, "a later policy refused")

	if c, err := s.dial(from("127.0.0.1"), http.Header{"Origin": {"http://evil.example"}}); statusOf(c) != http.StatusForbidden {
		t.Fatalf("foreign origin: %v, want 403", err)
	}
	waitZero(t, st, "the Upgrader refused")

	if _, err := s.dial(from("127.0.0.1"), http.Header{"X-Fail": {"panic"}}); err == nil {
		t.Fatal("panicking policy: upgraded")
	}
	waitZero(t, st, "a policy panicked")

	for _, where := range []string{"inner", "outer"} {
		c := s.mustDial(from("127.0.0.1"), http.Header{"X-Fail": {where}})
		f, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil || f.CloseCode() != 1011 {
			t.Fatalf("%s attachment failure: close %d %v", where, f.CloseCode(), err)
		}
		c.WriteClose(1011, "")
		if info := s.nextClose(); !errors.Is(info.Cause, failing) {
			t.Fatalf("cause %v", info.Cause)
		}
		waitZero(t, st, "an "+where+" attachment failed")
	}
	if st.acquired < 2*5 {
		t.Fatalf("only %d slots taken", st.acquired)
	}
}
