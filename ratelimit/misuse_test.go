package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/queue"
	"github.com/wsmw/wsmw/timeout"
)

// MessageRate(5, 0) reads naturally as "no bursting", but a token bucket
// that holds no token lets nothing through: it panics, saying what is
// allowed, instead of turning the limit off.
func TestMessageRateBurstZeroPanics(t *testing.T) {
	const allowed = "a rate of zero turns it off; a positive rate needs a burst of at least 1"
	wstest.MustPanic(t, func() { MessageRate(5, 0) }, "wsmw: MessageRate(5, 0)", allowed)
	wstest.MustPanic(t, func() { MessageRate(5, -1) }, "MessageRate(5, -1)", allowed)
	wstest.MustPanic(t, func() { MessageRate(-1, 10) }, "MessageRate(-1, 10)", allowed)
	wstest.MustPanic(t, func() { MessageRate(0.5, 0) }, "MessageRate(0.5, 0)", allowed)
}

// Negative counts, and rates without a window, panic at construction.
func TestMeaninglessLimitsPanic(t *testing.T) {
	for _, tc := range []struct {
		name  string
		make  func()
		wants []string
	}{
		{"MaxConns(-1)", func() { MaxConns(-1) }, []string{"wsmw: MaxConns(-1): may not be negative (zero turns it off)"}},
		{"MaxTotalConns(-1)", func() { MaxTotalConns(-1) }, []string{"wsmw: MaxTotalConns(-1): may not be negative (zero turns it off)"}},
		{"ConnectRate(-1, 1m)", func() { ConnectRate(-1, time.Minute) }, []string{"ConnectRate(-1, 1m0s)", "a limit of zero turns it off; otherwise both must be positive"}},
		{"ConnectRate(10, 0)", func() { ConnectRate(10, 0) }, []string{"ConnectRate(10, 0s)", "both must be positive"}},
		{"ConnectRate(10, -1s)", func() { ConnectRate(10, -time.Second) }, []string{"ConnectRate(10, -1s)", "both must be positive"}},
		{"MaxMessageSize(0)", func() { MaxMessageSize(0) }, []string{"MaxMessageSize(0): must be positive (or -1 for no limit)"}},
		{"MaxMessageSize(-2)", func() { MaxMessageSize(-2) }, []string{"MaxMessageSize(-2): must be positive (or -1 for no limit)"}},
		{"KeyByIPPrefix(33, 64)", func() { KeyByIPPrefix(33, 64) }, []string{"KeyByIPPrefix(33, 64): bits must be 0-32 and 0-128"}},
		{"KeyByIPPrefix(24, 129)", func() { KeyByIPPrefix(24, 129) }, []string{"KeyByIPPrefix(24, 129)"}},
		{"KeyByIPPrefix(-1, 64)", func() { KeyByIPPrefix(-1, 64) }, []string{"KeyByIPPrefix(-1, 64)"}},
		{"WithRetryAfter(0)", func() { WithRetryAfter(0) }, []string{"WithRetryAfter(0s): must be positive"}},
		{"WithRetryAfter(-1s)", func() { WithRetryAfter(-time.Second) }, []string{"WithRetryAfter(-1s): must be positive"}},
		{"WithKey(nil)", func() { WithKey(nil) }, []string{"WithKey(nil)"}},
		{"WithStore(nil)", func() { WithStore(nil) }, []string{"WithStore(nil)"}},
		{"WithOnExceeded(nil)", func() { WithOnExceeded(nil) }, []string{"WithOnExceeded(nil)"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wstest.MustPanic(t, tc.make, tc.wants...) })
	}
}

// Every option is accepted by the policies its doc names and panics, naming
// both, in any other, even in a policy that is turned off:
// MessageRate(1, 1, WithStore(s)) would otherwise silently stay per
// process.
func TestMisplacedOptionsPanic(t *testing.T) {
	store := NewMemoryStore()
	onReject := func(*http.Request, int, error) {}
	options := map[string]middleware.Option{
		"WithKey":           WithKey(KeyBySubject),
		"WithStore":         WithStore(store),
		"WithPrefix":        WithPrefix("a:"),
		"WithFailClosed":    WithFailClosed(),
		"WithRetryAfter":    WithRetryAfter(time.Second),
		"WithOnReject":      WithOnReject(onReject),
		"WithLogger":        middleware.WithLogger(slog.Default()),
		"WithClose":         middleware.WithClose(lifecycle.StatusTryAgainLater, "later"),
		"WithOnExceeded":    WithOnExceeded(func(*lifecycle.Conn, lifecycle.MessageType, []byte) error { return nil }),
		"WithPerSubject":    WithPerSubject(),
		"WithCountOutbound": timeout.WithCountOutbound(),
		"WithMaxMessages":   queue.WithMaxMessages(8),
		"WithCompression":   middleware.WithCompression(),
	}
	policies := map[string]func(on bool, o middleware.Option) func(http.Handler) http.Handler{
		"ConnectRate": func(on bool, o middleware.Option) func(http.Handler) http.Handler {
			if on {
				return ConnectRate(10, time.Minute, o)
			}
			return ConnectRate(0, 0, o)
		},
		"MaxConns": func(on bool, o middleware.Option) func(http.Handler) http.Handler {
			return MaxConns(map[bool]int{true: 10}[on], o)
		},
		"MaxTotalConns": func(on bool, o middleware.Option) func(http.Handler) http.Handler {
			return MaxTotalConns(map[bool]int{true: 10}[on], o)
		},
		"MessageRate": func(on bool, o middleware.Option) func(http.Handler) http.Handler {
			if on {
				return MessageRate(1, 1, o)
			}
			return MessageRate(0, 0, o)
		},
		"ValidUTF8": func(_ bool, o middleware.Option) func(http.Handler) http.Handler { return ValidUTF8(o) },
	}
	// The table of options.go's doc.
	takes := map[string][]string{
		"ConnectRate":   {"WithKey", "WithStore", "WithPrefix", "WithFailClosed", "WithOnReject", "WithLogger"},
		"MaxConns":      {"WithKey", "WithStore", "WithPrefix", "WithFailClosed", "WithRetryAfter", "WithOnReject", "WithLogger"},
		"MaxTotalConns": {"WithStore", "WithPrefix", "WithFailClosed", "WithRetryAfter", "WithOnReject", "WithLogger"},
		"MessageRate":   {"WithClose", "WithOnExceeded", "WithPerSubject"},
		"ValidUTF8":     {"WithClose"},
	}
	for policy, build := range policies {
		for name, o := range options {
			t.Run(name+" in "+policy, func(t *testing.T) {
				for _, on := range []bool{true, false} {
					if !contains(takes[policy], name) {
						wstest.MustPanic(t, func() { build(on, o) }, "wsmw: "+name+" does not apply to "+policy)
						continue
					}
					if build(on, o) == nil {
						t.Fatal("no middleware")
					}
				}
			})
		}
	}
	wstest.MustPanic(t, func() { MaxConns(1, nil) }, "nil option given to MaxConns")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// upgradeRequest returns a WebSocket upgrade request, as a client sends it.
func upgradeRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/ws", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	return r
}

// passesUntouched reports whether policy hands an upgrade request to the
// next handler as it came (nothing attached, no copy made, the writer as
// it was: a policy that counts the request passes the X-RateLimit-*
// fields on in the writer) and writes nothing itself.
func passesUntouched(policy func(http.Handler) http.Handler) bool {
	in := upgradeRequest()
	var got *http.Request
	var gotW http.ResponseWriter
	w := httptest.NewRecorder()
	policy(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, gotW = r, w })).ServeHTTP(w, in)
	return got == in && gotW == http.ResponseWriter(w) && len(w.Header()) == 0
}

// Zero turns each policy off: the upgrade request passes untouched (no
// headers, no attachment), where a policy that is on counts it. A
// KeyBySubject that would refuse the request is not even asked.
func TestZeroTurnsPoliciesOff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		off, on func(http.Handler) http.Handler
	}{
		{"ConnectRate", ConnectRate(0, 0), ConnectRate(10, time.Minute)},
		{"ConnectRate with a window", ConnectRate(0, time.Minute, WithKey(KeyBySubject)), ConnectRate(10, time.Minute)},
		{"MaxConns", MaxConns(0, WithKey(KeyBySubject)), MaxConns(10)},
		{"MaxTotalConns", MaxTotalConns(0), MaxTotalConns(10)},
		{"MessageRate", MessageRate(0, 0), MessageRate(1, 1)},
		{"MessageRate with a burst", MessageRate(0, 10, WithPerSubject()), MessageRate(1, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !passesUntouched(tc.off) {
				t.Error("turned off, it still touched the request")
			}
			if passesUntouched(tc.on) {
				t.Error("turned on, it did not touch the request (the check proves nothing)")
			}
		})
	}
}

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}

func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// at returns the messages logged at level.
func (h *logRecorder) at(level slog.Level) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var msgs []string
	for _, r := range h.recs {
		if r.Level == level {
			msgs = append(msgs, r.Message)
		}
	}
	return msgs
}

// testSecret signs the tokens of the tests that put auth.JWT in front.
var testSecret = []byte("a test secret of at least 32 bytes!")

// bearer returns an Authorization header with a valid token for subject.
func bearer(t testing.TB, subject string) http.Header {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": subject, "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{"Authorization": {"Bearer " + tok}}
}

// A policy keyed by subject placed before the auth policy finds no subject:
// it refuses every upgrade with 403 (it never falls back to the IP, which
// would turn a per-user cap into a per-NAT one), reports ErrNoSubject, and
// logs one Warn however many it refuses.
func TestKeyBySubjectBeforeAuthRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy func(opts ...middleware.Option) func(http.Handler) http.Handler
	}{
		{"MaxConns", func(opts ...middleware.Option) func(http.Handler) http.Handler {
			return MaxConns(1, append(opts, WithKey(KeyBySubject))...)
		}},
		{"ConnectRate", func(opts ...middleware.Option) func(http.Handler) http.Handler {
			return ConnectRate(100, time.Minute, append(opts, WithKey(KeyBySubject))...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := new(logRecorder)
			var mu sync.Mutex
			rejected := map[int]int{}
			onReject := WithOnReject(func(_ *http.Request, status int, cause error) {
				mu.Lock()
				defer mu.Unlock()
				if errors.Is(cause, ErrNoSubject) {
					rejected[status]++
				}
			})
			s := newTestServer(t, nil,
				tc.policy(middleware.WithLogger(slog.New(logs)), onReject), // misplaced: before the auth policy
				auth.JWT(auth.HMAC(testSecret)))
			const refusals = 50
			tokens := []http.Header{bearer(t, "alice"), bearer(t, "bob"), bearer(t, "carol")} // valid ones
			var wg sync.WaitGroup
			statuses := make(chan int, refusals)
			for i := range refusals {
				wg.Go(func() {
					c, _ := s.dial(nil, tokens[i%len(tokens)])
					statuses <- statusOf(c)
				})
			}
			wg.Wait()
			close(statuses)
			for st := range statuses {
				if st != http.StatusForbidden {
					t.Fatalf("status %d, want 403", st)
				}
			}
			if rejected[http.StatusForbidden] != refusals {
				t.Fatalf("OnReject saw %v, want %d × 403 ErrNoSubject", rejected, refusals)
			}
			warns := logs.at(slog.LevelWarn)
			if len(warns) != 1 {
				t.Fatalf("%d Warn lines for %d refusals, want 1: %q", len(warns), refusals, warns)
			}
			if !strings.Contains(warns[0], tc.name) || !strings.Contains(warns[0], "before the auth policy") {
				t.Fatalf("Warn %q does not say which policy and why", warns[0])
			}
		})
	}
}

// After the auth policy, MaxConns keyed by subject is a per-user cap: two
// users behind one address each get their own slots, and a slot comes
// back when the connection ends.
func TestMaxConnsPerSubjectAfterAuth(t *testing.T) {
	st := newCountingStore()
	logs := new(logRecorder)
	s := newTestServer(t, nil, auth.JWT(auth.HMAC(testSecret)),
		MaxConns(1, WithKey(KeyBySubject), WithStore(st), middleware.WithLogger(slog.New(logs))))
	alice := s.mustDial(nil, bearer(t, "alice"))
	s.conn()
	if c, err := s.dial(nil, bearer(t, "alice")); statusOf(c) != http.StatusTooManyRequests {
		t.Fatalf("alice's second connection: %v, want 429", err)
	}
	s.mustDial(nil, bearer(t, "bob"))
	s.conn()
	if st.held("conns:sub:alice") != 1 || st.held("conns:sub:bob") != 1 {
		t.Fatalf("held: alice %d, bob %d", st.held("conns:sub:alice"), st.held("conns:sub:bob"))
	}
	alice.WriteClose(1000, "")
	s.nextClose()
	wstest.WaitFor(t, "alice's slot to come back", 10*time.Second, func() bool { return st.held("conns:sub:alice") == 0 })
	s.mustDial(nil, bearer(t, "alice"))
	if w := logs.at(slog.LevelWarn); len(w) != 0 {
		t.Fatalf("warned: %q", w)
	}
}
