package ratelimit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// Connections authenticated in band (auth.WithTokenOptional, then
// Authenticate) count against MaxConns keyed by subject when their subject
// is set: against the same cap, in the same Store, as those authenticated
// at the upgrade.

// signed returns a valid token for subject (testSecret, one hour).
func signed(t testing.TB, subject string) string {
	t.Helper()
	claims := jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}
	if subject != "" {
		claims["sub"] = subject
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// inband serves the in-band protocol of these tests: a text message "auth
// <token>" authenticates the connection with a and is answered "ok" or
// "refused: <error>" (the error also goes to refusals, when not nil);
// "auth×8 <token>" runs eight Authenticate calls at once (one binds the
// session, the others refresh it or are refused) and answers how many
// succeeded; anything else is echoed.
func inband(a *auth.Authenticator, refusals chan<- error) func(*lifecycle.Conn) {
	return func(c *lifecycle.Conn) {
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			reply := msg
			switch cmd, tok, _ := strings.Cut(string(msg), " "); cmd {
			case "auth":
				reply = []byte("ok")
				if err := a.Authenticate(c, tok); err != nil {
					reply = []byte("refused: " + err.Error())
					if refusals != nil {
						refusals <- err
					}
				}
			case "auth×8":
				var wg sync.WaitGroup
				var mu sync.Mutex
				ok := 0
				for range 8 {
					wg.Go(func() {
						if a.Authenticate(c, tok) == nil {
							mu.Lock()
							ok++
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				reply = fmt.Appendf(nil, "%d ok", ok)
			}
			if c.WriteMessage(mt, reply) != nil {
				return
			}
		}
	}
}

// ask sends msg and returns the text answered.
func ask(t *testing.T, c *wstest.RawClient, msg string) string {
	t.Helper()
	if err := c.WriteText(msg); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	f, err := c.ReadFrame(10 * time.Second)
	if err != nil || f.Op != wstest.OpText {
		t.Fatalf("answer to %.10q: %v (opcode %d)", msg, err, f.Op)
	}
	return string(f.Payload)
}

// inbandServer puts auth.JWT with WithTokenOptional in front of policies
// and serves the in-band protocol.
func inbandServer(t *testing.T, refusals chan<- error, authOpts []middleware.Option, policies ...func(http.Handler) http.Handler) (*testServer, *auth.Authenticator) {
	t.Helper()
	a, err := auth.New(auth.HMAC(testSecret), append([]middleware.Option{auth.WithTokenOptional()}, authOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return newTestServer(t, inband(a, refusals), append([]func(http.Handler) http.Handler{a.Middleware}, policies...)...), a
}

func TestMaxConnsCountsInBandConnections(t *testing.T) {
	st := newCountingStore()
	refusals := make(chan error, 16)
	logs := new(logRecorder)
	s, _ := inbandServer(t, refusals, nil, MaxConns(2, WithKey(KeyBySubject), WithStore(st), middleware.WithLogger(slog.New(logs))))
	held := func(subject string, want int) {
		t.Helper()
		if got := st.held("conns:sub:" + subject); got != want {
			t.Fatalf("%s holds %d slots, want %d", subject, got, want)
		}
	}

	// One at the upgrade, one in band: the cap of 2 is reached.
	s.mustDial(nil, bearer(t, "alice"))
	s.conn() // open on the server too: the client may see the 101 before Accept returns
	held("alice", 1)
	second := s.mustDial(nil, nil) // upgraded with its subject to come
	held("alice", 1)
	if got := ask(t, second, "auth "+signed(t, "alice")); got != "ok" {
		t.Fatalf("second connection: %q", got)
	}
	held("alice", 2)

	// A third, in band: refused with the cap's error; it stays open and
	// belongs to nobody.
	third := s.mustDial(nil, nil)
	if got := ask(t, third, "auth "+signed(t, "alice")); !strings.HasPrefix(got, "refused: too many connections") {
		t.Fatalf("third connection: %q, want a refusal", got)
	}
	if err := <-refusals; !errors.Is(err, ErrTooManyConnections) {
		t.Fatalf("Authenticate's error %v, want ErrTooManyConnections", err)
	}
	if got := ask(t, third, "still open?"); got != "still open?" {
		t.Fatalf("the refused connection answered %q", got)
	}
	if n := len(connx.SubjectConns(s.reg, "alice")); n != 2 {
		t.Fatalf("%d connections indexed under alice, want 2 (the refused one has no subject)", n)
	}
	held("alice", 2)

	// A fourth, at the upgrade: 429 as before.
	if c, err := s.dial(nil, bearer(t, "alice")); statusOf(c) != http.StatusTooManyRequests {
		t.Fatalf("fourth connection, token at the upgrade: %v, want 429", err)
	}
	// Another subject has slots of its own.
	bob := s.mustDial(nil, nil)
	if got := ask(t, bob, "auth "+signed(t, "bob")); got != "ok" {
		t.Fatalf("bob: %q", got)
	}
	held("bob", 1)

	// The in-band connection's slot comes back when it ends; the refused
	// connection can then authenticate.
	second.WriteClose(1000, "")
	s.nextClose()
	wstest.WaitFor(t, "alice's in-band slot to come back", 10*time.Second, func() bool { return st.held("conns:sub:alice") == 1 })
	if got := ask(t, third, "auth "+signed(t, "alice")); got != "ok" {
		t.Fatalf("the refused connection, retried after a slot freed: %q", got)
	}
	held("alice", 2)
	// A refresh (the same subject again) takes no second slot.
	if got := ask(t, third, "auth "+signed(t, "alice")); got != "ok" {
		t.Fatalf("refresh: %q", got)
	}
	held("alice", 2)
	if w := logs.at(slog.LevelWarn); len(w) != 0 {
		t.Fatalf("warned: %q", w)
	}
}

// The slot taken in band is released exactly once however the connection
// ends: the peer's close, a reset, a server close, shutdown; none is taken
// for a connection that ends before authenticating.
func TestInBandSlotReleasedOnEveryEnd(t *testing.T) {
	st := newCountingStore()
	s, _ := inbandServer(t, nil, nil, MaxConns(1, WithKey(KeyBySubject), WithStore(st)))
	const key = "conns:sub:alice"
	authenticated := func() (*wstest.RawClient, *lifecycle.Conn) {
		t.Helper()
		c := s.mustDial(nil, nil)
		conn := s.conn()
		if got := ask(t, c, "auth "+signed(t, "alice")); got != "ok" {
			t.Fatalf("auth: %q", got)
		}
		if st.held(key) != 1 {
			t.Fatalf("held %d after auth, want 1", st.held(key))
		}
		return c, conn
	}
	zero := func(how string) {
		t.Helper()
		wstest.WaitFor(t, "the slot to come back after "+how, 10*time.Second, func() bool {
			return st.settled(t) && st.held(key) == 0
		})
	}

	c, _ := authenticated()
	c.WriteClose(1000, "bye")
	s.nextClose()
	zero("a peer close")

	c, _ = authenticated()
	c.Reset()
	if info := s.nextClose(); info.Initiator != lifecycle.InitiatorAbnormal {
		t.Fatalf("reset ended as %v", info.Initiator)
	}
	zero("a reset")

	c, conn := authenticated()
	conn.Close(lifecycle.StatusPolicyViolation, "go away")
	c.ReadUntilClose(5 * time.Second)
	c.WriteClose(1008, "")
	s.nextClose()
	zero("a server close")

	c = s.mustDial(nil, nil) // never authenticates
	s.conn()
	c.WriteClose(1000, "")
	s.nextClose()
	zero("an end before authentication")

	c, _ = authenticated()
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		if _, _, err := c.ReadUntilClose(10 * time.Second); err == nil {
			c.WriteClose(1001, "")
		}
	}()
	if err := s.reg.Shutdown(t.Context()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	<-answered
	zero("shutdown")
	if st.acquired != 4 {
		t.Fatalf("%d slots taken, want 4", st.acquired)
	}
}

// A subject check that refuses after MaxConns took its slot makes
// Authenticate fail, and the slot comes back at once: two caps in a row,
// the second of which is full.
func TestInBandSlotUndoneWhenALaterCapRefuses(t *testing.T) {
	st := newCountingStore()
	refusals := make(chan error, 4)
	s, _ := inbandServer(t, refusals, nil,
		MaxConns(5, WithKey(KeyBySubject), WithStore(st), WithPrefix("app:")),
		MaxConns(1, WithKey(KeyBySubject), WithStore(st), WithPrefix("chat:")))
	first := s.mustDial(nil, nil)
	if got := ask(t, first, "auth "+signed(t, "alice")); got != "ok" {
		t.Fatalf("first: %q", got)
	}
	second := s.mustDial(nil, nil)
	if got := ask(t, second, "auth "+signed(t, "alice")); !strings.HasPrefix(got, "refused") {
		t.Fatalf("second: %q, want refused by the chat cap", got)
	}
	if err := <-refusals; !errors.Is(err, ErrTooManyConnections) {
		t.Fatalf("error %v", err)
	}
	if a, c := st.held("app:conns:sub:alice"), st.held("chat:conns:sub:alice"); a != 1 || c != 1 {
		t.Fatalf("held: app %d, chat %d; want 1 and 1 (the app slot undone)", a, c)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.acquired != 3 || fmt.Sprint(st.released) != "map[3:1]" {
		t.Fatalf("acquired %d, released %v; want 3, and the third (the undone app slot) once", st.acquired, st.released)
	}
}

// A Store that fails: failing open, an in-band connection is let through
// uncounted; failing closed, Authenticate reports ErrStoreUnavailable.
func TestInBandStoreFailure(t *testing.T) {
	downErr := errors.New("store down")
	down := failingStore{downErr}
	t.Run("open", func(t *testing.T) {
		s, _ := inbandServer(t, nil, nil, MaxConns(1, WithKey(KeyBySubject), WithStore(down), middleware.WithLogger(slog.New(new(logRecorder)))))
		for range 3 {
			c := s.mustDial(nil, nil)
			if got := ask(t, c, "auth "+signed(t, "alice")); got != "ok" {
				t.Fatalf("failing open: %q", got)
			}
		}
	})
	t.Run("closed", func(t *testing.T) {
		refusals := make(chan error, 1)
		s, _ := inbandServer(t, refusals, nil, MaxConns(1, WithKey(KeyBySubject), WithStore(down), WithFailClosed(), middleware.WithLogger(slog.New(new(logRecorder)))))
		c := s.mustDial(nil, nil)
		if got := ask(t, c, "auth "+signed(t, "alice")); !strings.HasPrefix(got, "refused") {
			t.Fatalf("failing closed: %q", got)
		}
		if err := <-refusals; !errors.Is(err, ErrStoreUnavailable) || !errors.Is(err, downErr) {
			t.Fatalf("error %v, want ErrStoreUnavailable wrapping the store's", err)
		}
	})
}

// A token without a subject (auth.WithAnonymous) cannot be counted by
// subject: refused in band with ErrNoSubject, as at the upgrade (403).
func TestInBandAnonymousRefused(t *testing.T) {
	refusals := make(chan error, 1)
	s, _ := inbandServer(t, refusals, []middleware.Option{auth.WithAnonymous()}, MaxConns(1, WithKey(KeyBySubject), middleware.WithLogger(slog.New(new(logRecorder)))))
	if c, err := s.dial(nil, http.Header{"Authorization": {"Bearer " + signed(t, "")}}); statusOf(c) != http.StatusForbidden {
		t.Fatalf("anonymous token at the upgrade: %v, want 403", err)
	}
	c := s.mustDial(nil, nil)
	if got := ask(t, c, "auth "+signed(t, "")); !strings.HasPrefix(got, "refused") {
		t.Fatalf("anonymous token in band: %q, want refused", got)
	}
	if err := <-refusals; !errors.Is(err, ErrNoSubject) {
		t.Fatalf("error %v, want ErrNoSubject", err)
	}
}

// The pending mark is for MaxConns: ConnectRate keyed by subject still
// refuses an upgrade whose subject comes in band (403, one Warn that says
// so); and a request with neither a subject nor the mark is still refused
// by MaxConns (the mark comes from the auth policy, which is after it).
func TestPendingSubjectOnlyForMaxConns(t *testing.T) {
	logs := new(logRecorder)
	s, _ := inbandServer(t, nil, nil, ConnectRate(10, time.Minute, WithKey(KeyBySubject), middleware.WithLogger(slog.New(logs))))
	for range 3 {
		if c, err := s.dial(nil, nil); statusOf(c) != http.StatusForbidden {
			t.Fatalf("ConnectRate by subject, subject in band: %v, want 403", err)
		}
	}
	if w := logs.at(slog.LevelWarn); len(w) != 1 || !strings.Contains(w[0], "in band") {
		t.Fatalf("Warn lines %q, want one that says the subject comes in band", w)
	}

	logs = new(logRecorder)
	a, err := auth.New(auth.HMAC(testSecret), auth.WithTokenOptional())
	if err != nil {
		t.Fatal(err)
	}
	before := newTestServer(t, inband(a, nil), MaxConns(1, WithKey(KeyBySubject), middleware.WithLogger(slog.New(logs))), a.Middleware)
	for range 3 {
		if c, err := before.dial(nil, nil); statusOf(c) != http.StatusForbidden {
			t.Fatalf("MaxConns before the auth policy: %v, want 403", err)
		}
	}
	if w := logs.at(slog.LevelWarn); len(w) != 1 || !strings.Contains(w[0], "before the auth policy") {
		t.Fatalf("Warn lines %q", w)
	}
}

// Exactly once under races: many connections of one subject authenticate
// in band at once, some several times at once on one connection, and end
// in every way while they do; each slot taken is released once, the cap
// is never exceeded, and every slot comes back.
func TestInBandSlotsExactlyOnceUnderRaces(t *testing.T) {
	st := newCountingStore()
	const limit, conns = 4, 48
	s, _ := inbandServer(t, nil, nil, MaxConns(limit, WithKey(KeyBySubject), WithStore(st)))
	tok := signed(t, "alice")

	var peak sync.Mutex
	most := 0
	watch := func() {
		peak.Lock()
		most = max(most, st.held("conns:sub:alice"))
		peak.Unlock()
	}
	var wg sync.WaitGroup
	var okMu sync.Mutex
	ok := 0
	for i := range conns {
		wg.Go(func() {
			c, err := s.dial(nil, nil)
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			switch i % 4 {
			case 0: // authenticate and reset at once: the slot may be taken after the end
				c.WriteText("auth " + tok)
				c.Reset()
			case 1: // eight Authenticate calls at once on one connection
				if err := c.WriteText("auth×8 " + tok); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				if _, err := c.ReadFrame(10 * time.Second); err != nil {
					t.Errorf("read: %v", err)
					return
				}
				watch()
				c.WriteClose(1000, "")
			default:
				if err := c.WriteText("auth " + tok); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				f, err := c.ReadFrame(10 * time.Second)
				if err == nil && string(f.Payload) == "ok" {
					okMu.Lock()
					ok++
					okMu.Unlock()
				}
				watch()
				if i%2 == 0 {
					c.Reset()
				} else {
					c.WriteClose(1000, "")
				}
			}
		})
	}
	wg.Wait()
	for range conns {
		s.nextClose()
	}
	wstest.WaitFor(t, "every slot to come back", 10*time.Second, func() bool {
		return st.settled(t) && st.held("conns:sub:alice") == 0
	})
	if most > limit {
		t.Fatalf("%d slots held at once, cap %d", most, limit)
	}
	if st.acquired > conns {
		t.Fatalf("%d slots taken by %d connections: one took more than one", st.acquired, conns)
	}
	if st.acquired < limit || ok == 0 {
		t.Fatalf("only %d slots taken, %d authentications", st.acquired, ok)
	}
	t.Logf("%d connections: %d slots taken and released once each, at most %d at once", conns, st.acquired, most)
}

// A connection's subject check refuses another subject (a connection
// never changes hands), and repeats of its own are free.
func TestInBandSubjectChangeRefused(t *testing.T) {
	st := newCountingStore()
	s := newTestServer(t, func(c *lifecycle.Conn) {
		errs := []error{c.SetSubject("alice"), c.SetSubject("alice"), c.SetSubject("bob"), c.SetSubject("")}
		c.WriteMessage(lifecycle.TextMessage, fmt.Append(nil, errs))
		conntest.Echo(c)
	}, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, policy.WithSubjectPending(r)) // an auth policy of one's own
		})
	}, MaxConns(1, WithKey(KeyBySubject), WithStore(st)))
	c := s.mustDial(nil, nil)
	f, err := c.ReadFrame(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]error{nil, nil, fmt.Errorf("%w (MaxConns)", ErrSubjectChange), fmt.Errorf("%w (MaxConns)", ErrSubjectChange)})
	if string(f.Payload) != want {
		t.Fatalf("SetSubject errors %s, want %s", f.Payload, want)
	}
	if st.acquired != 1 || st.held("conns:sub:alice") != 1 {
		t.Fatalf("acquired %d, held %d", st.acquired, st.held("conns:sub:alice"))
	}
}
