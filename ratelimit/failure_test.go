package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsmw/wsmw/middleware"
)

// failingStore is a Store that is down: every call fails with err.
type failingStore struct{ err error }

func (s failingStore) Take(context.Context, string, int, time.Duration) (TakeResult, error) {
	return TakeResult{}, s.err
}

func (s failingStore) Acquire(context.Context, string, int) (func(), int, error) {
	return nil, 0, s.err
}

// errorLines returns the Error lines logged that say mode.
func errorLines(logs *logRecorder, mode string) []string {
	var lines []string
	for _, m := range logs.at(slog.LevelError) {
		if strings.Contains(m, mode) {
			lines = append(lines, m)
		}
	}
	return lines
}

// While the Store fails, the policies fail open by default: upgrades go
// through uncounted, and each policy logs the failure once (not once per
// upgrade).
func TestStoreFailureFailsOpen(t *testing.T) {
	down := failingStore{errors.New("store down")}
	logs := new(logRecorder)
	log := middleware.WithLogger(slog.New(logs))
	s := newTestServer(t, nil,
		ConnectRate(1, time.Hour, WithStore(down), log),
		MaxConns(1, WithStore(down), log),
		MaxTotalConns(1, WithStore(down), log))
	for range 5 { // each limit is 1: only an uncounted upgrade gets through
		s.mustDial(nil, nil)
		s.conn()
	}
	if lines := errorLines(logs, "failing open: upgrades are not counted"); len(lines) != 3 {
		t.Fatalf("%d Error lines for 3 policies failing 5 times each, want 3: %q", len(lines), logs.at(slog.LevelError))
	}
}

// With WithFailClosed, a failing Store refuses upgrades with 503 and
// Retry-After (WithRetryAfter's, 5 s by default), reporting
// ErrStoreUnavailable wrapping the Store's error.
func TestStoreFailureWithFailClosed(t *testing.T) {
	downErr := errors.New("store down")
	down := failingStore{downErr}
	for _, tc := range []struct {
		name   string
		policy func(opts ...middleware.Option) func(http.Handler) http.Handler
		retry  string
	}{
		{"ConnectRate", func(opts ...middleware.Option) func(http.Handler) http.Handler {
			return ConnectRate(100, time.Minute, opts...)
		}, "5"},
		{"MaxConns", func(opts ...middleware.Option) func(http.Handler) http.Handler {
			return MaxConns(100, append(opts, WithRetryAfter(7*time.Second))...)
		}, "7"},
		{"MaxTotalConns", func(opts ...middleware.Option) func(http.Handler) http.Handler {
			return MaxTotalConns(100, opts...)
		}, "5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := new(logRecorder)
			var mu sync.Mutex
			var causes []error
			s := newTestServer(t, nil, tc.policy(WithStore(down), WithFailClosed(), middleware.WithLogger(slog.New(logs)),
				WithOnReject(func(_ *http.Request, status int, cause error) {
					mu.Lock()
					defer mu.Unlock()
					if status == http.StatusServiceUnavailable {
						causes = append(causes, cause)
					}
				})))
			for range 5 {
				c, err := s.dial(nil, nil)
				if statusOf(c) != http.StatusServiceUnavailable {
					t.Fatalf("upgrade with the store down: %v, want 503", err)
				}
				if got := c.Response.Header.Get("Retry-After"); got != tc.retry {
					t.Fatalf("Retry-After %q, want %q", got, tc.retry)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(causes) != 5 {
				t.Fatalf("OnReject saw %d refusals with 503", len(causes))
			}
			for _, c := range causes {
				if !errors.Is(c, ErrStoreUnavailable) || !errors.Is(c, downErr) {
					t.Fatalf("cause %v, want ErrStoreUnavailable wrapping the store's error", c)
				}
			}
			if lines := errorLines(logs, "failing closed: upgrades are refused with 503"); len(lines) != 1 {
				t.Fatalf("%d Error lines for 5 failures, want 1: %q", len(lines), logs.at(slog.LevelError))
			}
		})
	}
}

// WithPrefix keeps two policies of the same kind apart in one Store: two
// MaxConns(1) in a row share a Store, and without prefixes the second one
// finds the slot the first one took.
func TestWithPrefixKeepsPoliciesApart(t *testing.T) {
	st := NewMemoryStore()
	s := newTestServer(t, nil, MaxConns(1, WithStore(st), WithPrefix("chat:")), MaxConns(1, WithStore(st), WithPrefix("feed:")))
	s.mustDial(nil, nil)
	s.conn()
	if st.Held("chat:conns:127.0.0.1") != 1 || st.Held("feed:conns:127.0.0.1") != 1 {
		t.Fatalf("held: chat %d, feed %d", st.Held("chat:conns:127.0.0.1"), st.Held("feed:conns:127.0.0.1"))
	}
	if c, err := s.dial(nil, nil); statusOf(c) != http.StatusTooManyRequests {
		t.Fatalf("second connection: %v, want 429", err)
	}

	shared := NewMemoryStore()
	clash := newTestServer(t, nil, MaxConns(1, WithStore(shared)), MaxConns(1, WithStore(shared)))
	if c, err := clash.dial(nil, nil); statusOf(c) != http.StatusTooManyRequests {
		t.Fatalf("without prefixes: %v, want the first connection refused by the second policy", err)
	}
}
