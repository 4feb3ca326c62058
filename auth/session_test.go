package auth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

func TestSessionEndsAtTokenExpiry(t *testing.T) {
	t.Parallel()
	s := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()))
	start := time.Now()
	c := s.dial(bearer(hs(t, "alice", 2*time.Second)), "")
	echoes(t, c)
	f, _, err := c.ReadUntilClose(6 * time.Second)
	if err != nil {
		t.Fatalf("no Close frame: %v", err)
	}
	elapsed := time.Since(start)
	if f.CloseCode() != 1008 || f.CloseReason() != "token expired" {
		t.Fatalf("Close %d %q, want 1008 \"token expired\"", f.CloseCode(), f.CloseReason())
	}
	// exp has a one-second resolution: the token expires 1-2 s after start.
	if elapsed < time.Second || elapsed > 4*time.Second {
		t.Fatalf("closed after %v, want about 2s", elapsed)
	}
	c.WriteClose(1008, "")
	ev := s.next()
	if !errors.Is(ev.info.Cause, auth.ErrTokenExpired) || ev.info.Code != 1008 || ev.info.Initiator != lifecycle.InitiatorLocal {
		t.Fatalf("CloseInfo %+v, want 1008 local ErrTokenExpired", ev.info)
	}
	if !ev.info.HandshakeComplete {
		t.Fatal("close handshake incomplete")
	}
}

func TestRefreshKeepsSessionOpen(t *testing.T) {
	t.Parallel()
	s := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()))
	start := time.Now()
	c := s.dial(bearer(hs(t, "alice", 2*time.Second)), "")

	// Another subject's token is refused; the connection stays.
	reply := roundTrip(t, c, command{Type: "refresh", Token: hs(t, "bob", time.Hour)})
	if reply.Type != "error" || !strings.Contains(reply.Error, "another subject") {
		t.Fatalf("refresh with bob's token: %+v, want an error", reply)
	}
	// A bad token is refused; the connection stays.
	reply = roundTrip(t, c, command{Type: "refresh", Token: "garbage"})
	if reply.Type != "error" {
		t.Fatalf("refresh with garbage: %+v, want an error", reply)
	}
	echoes(t, c)

	if reply := roundTrip(t, c, command{Type: "refresh", Token: hs(t, "alice", 5*time.Second)}); reply.Type != "refreshed" {
		t.Fatalf("refresh: %+v", reply)
	}
	// Nothing arrives until well past the first token's expiry.
	if f, err := c.ReadFrame(time.Until(start.Add(3500 * time.Millisecond))); err == nil {
		t.Fatalf("frame %d %q before the new expiry", f.Op, f.Payload)
	}
	echoes(t, c)
	f, _, err := c.ReadUntilClose(5 * time.Second)
	if err != nil || f.CloseCode() != 1008 || f.CloseReason() != "token expired" {
		t.Fatalf("Close %d %q (%v), want 1008 token expired at the new expiry", f.CloseCode(), f.CloseReason(), err)
	}
	if el := time.Since(start); el < 4*time.Second {
		t.Fatalf("closed after %v, before the refreshed expiry", el)
	}
}

func TestRevokeClosesOnlyThatSubject(t *testing.T) {
	t.Parallel()
	s := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()))
	a1 := s.dial(bearer(hs(t, "alice", time.Minute)), "")
	a2 := s.dial(http.Header{"Sec-WebSocket-Protocol": {"bearer, " + hs(t, "alice", time.Minute)}}, "")
	b := s.dial(nil, "access_token="+hs(t, "bob", time.Minute))
	for _, c := range []*wstest.RawClient{a1, a2, b} {
		echoes(t, c) // every handler is running
	}
	if n := s.reg.Revoke("alice"); n != 2 {
		t.Fatalf("Revoke closed %d, want 2", n)
	}
	for _, c := range []*wstest.RawClient{a1, a2} {
		f, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil || f.CloseCode() != 1008 || f.CloseReason() != "session revoked" {
			t.Fatalf("Close %d %q (%v), want 1008 session revoked", f.CloseCode(), f.CloseReason(), err)
		}
		c.WriteClose(1008, "")
	}
	for range 2 {
		ev := s.next()
		if ev.subject != "alice" || !errors.Is(ev.info.Cause, lifecycle.ErrSessionRevoked) {
			t.Fatalf("end %q %+v, want alice revoked", ev.subject, ev.info)
		}
	}
	echoes(t, b)
}

func TestPeriodicRevalidation(t *testing.T) {
	t.Parallel()
	errRevoked := errors.New("on the revocation list")
	var revoked atomic.Bool
	var checks atomic.Int32
	s := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()),
		auth.WithRevalidation(50*time.Millisecond, func(ctx context.Context, c jwt.Claims) error {
			checks.Add(1)
			if sub, _ := c.GetSubject(); sub == "mallory" && revoked.Load() {
				return errRevoked
			}
			return nil
		}))
	m := s.dial(bearer(hs(t, "mallory", time.Minute)), "")
	a := s.dial(bearer(hs(t, "alice", time.Minute)), "")
	echoes(t, m)
	revoked.Store(true)
	f, _, err := m.ReadUntilClose(5 * time.Second)
	if err != nil || f.CloseCode() != 1008 || f.CloseReason() != "session revoked" {
		t.Fatalf("Close %d %q (%v), want 1008 session revoked", f.CloseCode(), f.CloseReason(), err)
	}
	m.WriteClose(1008, "")
	ev := s.next()
	if !errors.Is(ev.info.Cause, lifecycle.ErrSessionRevoked) || !errors.Is(ev.info.Cause, errRevoked) {
		t.Fatalf("cause %v, want ErrSessionRevoked wrapping the check's error", ev.info.Cause)
	}
	echoes(t, a)
	// The same check refuses a new upgrade and a refresh.
	if c, err := wstest.DialRaw(s.url, bearer(hs(t, "mallory", time.Minute))); err == nil || c.Response.StatusCode != 401 {
		t.Fatalf("upgrade of a revoked subject: %v", err)
	}
	if checks.Load() < 3 {
		t.Fatalf("%d checks, want several", checks.Load())
	}
}

func TestCloseAfterUpgrade(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opt    middleware.Option
		code   int
		reason string
	}{
		{auth.WithCloseAfterUpgrade(1008, "invalid token"), 1008, "invalid token"},
		{auth.WithCloseAfterUpgrade(4401, "Unauthorized"), 4401, "Unauthorized"},
	} {
		s := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()), tc.opt)
		for _, h := range []http.Header{
			nil,
			{"Sec-WebSocket-Protocol": {"bearer, " + hs(t, "alice", -time.Minute)}},
		} {
			c := s.dial(h, "")
			if h != nil && c.Response.Header.Get("Sec-WebSocket-Protocol") != "bearer" {
				t.Fatalf("selected %q, want bearer", c.Response.Header.Get("Sec-WebSocket-Protocol"))
			}
			f, _, err := c.ReadUntilClose(5 * time.Second)
			if err != nil || f.CloseCode() != tc.code || f.CloseReason() != tc.reason {
				t.Fatalf("Close %d %q (%v), want %d %q", f.CloseCode(), f.CloseReason(), err, tc.code, tc.reason)
			}
			c.WriteClose(tc.code, "")
			ev := s.next()
			if !errors.Is(ev.info.Cause, auth.ErrTokenMissing) && !errors.Is(ev.info.Cause, auth.ErrTokenInvalid) {
				t.Fatalf("cause %v", ev.info.Cause)
			}
		}
		if n := s.handled.Load(); n != 0 {
			t.Fatalf("%d handlers ran", n)
		}
	}
}

// roleClaims is a custom claims type.
type roleClaims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

func TestCustomClaimsAndExpiresAt(t *testing.T) {
	t.Parallel()
	a, err := auth.New(auth.HMAC(secret), auth.WithClaims(func() jwt.Claims { return new(roleClaims) }))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	reg := lifecycle.NewRegistry()
	url := wstest.Server(t, a.Middleware(middlewareHandler(reg, func(c *lifecycle.Conn) {
		rc, ok := auth.ClaimsOf(c).(*roleClaims)
		exp, _ := auth.ExpiresAt(c)
		if !ok || time.Until(exp) <= 0 {
			got <- "no claims"
			return
		}
		got <- rc.Role + " " + c.Subject()
	})))
	t.Cleanup(func() { reg.Shutdown(context.Background()) })
	tok := sign(t, jwt.SigningMethodHS256, secret, &roleClaims{Role: "admin", RegisteredClaims: *claims("alice", time.Minute)})
	c, err := wstest.DialRaw(url, bearer(tok))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s := <-got; s != "admin alice" {
		t.Fatalf("handler saw %q", s)
	}
	if claims := auth.ClaimsOf(nil); claims != nil {
		t.Fatalf("claims from a nil Conn: %v", claims)
	}
}

// A token that expires in the year 9999 keeps its exp exactly (the session
// keeps it compactly) and its connection open.
func TestFarFutureExpiry(t *testing.T) {
	t.Parallel()
	a, err := auth.New(auth.HMAC(secret))
	if err != nil {
		t.Fatal(err)
	}
	far := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	got := make(chan time.Time, 1)
	reg := lifecycle.NewRegistry()
	url := wstest.Server(t, a.Middleware(middlewareHandler(reg, func(c *lifecycle.Conn) {
		exp, _ := auth.ExpiresAt(c)
		got <- exp
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil || c.WriteMessage(mt, msg) != nil {
				return
			}
		}
	})))
	t.Cleanup(func() { reg.Shutdown(context.Background()) })
	cl := claims("alice", time.Minute)
	cl.ExpiresAt = jwt.NewNumericDate(far)
	c, err := wstest.DialRaw(url, bearer(sign(t, jwt.SigningMethodHS256, secret, cl)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if exp := <-got; !exp.Equal(far) {
		t.Fatalf("ExpiresAt = %v, want %v", exp, far)
	}
	echoes(t, c) // not expired
}
