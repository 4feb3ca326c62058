package auth_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// issuedAt signs a token for sub issued at iat (none when iat is zero)
// that expires after ttl from now.
func issuedAt(t *testing.T, sub string, iat time.Time, ttl time.Duration) string {
	t.Helper()
	c := claims(sub, ttl)
	c.IssuedAt = nil
	if !iat.IsZero() {
		c.IssuedAt = jwt.NewNumericDate(iat)
	}
	return sign(t, jwt.SigningMethodHS256, secret, c)
}

const noIat = "token has no iat; subject was revoked"

// TestRevocationRule: with no option, a token of a subject that the
// endpoint's Registry revoked is refused at the upgrade when it was issued
// in the revocation's second or before ("token revoked") or has no iat
// (a reason that names iat); tokens issued in a later second, and other
// subjects' tokens, pass. Validate, which knows no Registry, accepts them
// all; a refresh with a refused token is refused and the connection stays.
func TestRevocationRule(t *testing.T) {
	t.Parallel()
	// Revoked 10 s ago, 600 ms into a second.
	sec := time.Now().Truncate(time.Second).Add(-10 * time.Second)
	at := sec.Add(600 * time.Millisecond)
	reg := lifecycle.NewRegistry()
	connx.RevokeAt(reg, "alice", at)
	connx.RevokeAt(reg, "", at)
	a, err := auth.New(auth.HMAC(secret))
	if err != nil {
		t.Fatal(err)
	}
	s := newServerOn(t, reg, auth.HMAC(secret), nil, middleware.WithLogger(discardLogger()))

	for _, tc := range []struct {
		name, token, desc string
	}{
		{"issued the second before", issuedAt(t, "alice", sec.Add(-time.Millisecond), time.Hour), "token revoked"},
		{"issued an hour before", issuedAt(t, "alice", at.Add(-time.Hour), time.Hour), "token revoked"},
		{"no iat", issuedAt(t, "alice", time.Time{}, time.Hour), noIat},
		{"expired and revoked", issuedAt(t, "alice", at.Add(-time.Hour), -time.Minute), "token expired"},
		// iat has whole seconds: the revocation's own second cannot be
		// told apart, and is refused.
		{"issued in the same second, before", issuedAt(t, "alice", at.Add(-100*time.Millisecond), time.Hour), "token revoked"},
		{"issued at the second's start", issuedAt(t, "alice", sec, time.Hour), "token revoked"},
		{"issued in the same second, after", issuedAt(t, "alice", at.Add(200*time.Millisecond), time.Hour), "token revoked"},
		{"issued after", issuedAt(t, "alice", at.Add(time.Second), time.Hour), ""},
		{"issued now", hs(t, "alice", time.Hour), ""},
		{"another subject, no iat", issuedAt(t, "bob", time.Time{}, time.Hour), ""},
	} {
		if tc.desc == "token expired" || tc.desc == "" {
			checkRefusal(t, s, a, tc.name, tc.token, tc.desc, nil)
			continue
		}
		// Validate accepts it: it knows no Registry.
		if _, err := a.Validate(t.Context(), tc.token); err != nil {
			t.Errorf("%s: Validate: %v, want accepted (no Registry, no revocation check)", tc.name, err)
		}
		if got, want := s.refused(bearer(tc.token), ""), invalidToken(tc.desc); got != want {
			t.Errorf("%s: WWW-Authenticate %q, want %q", tc.name, got, want)
		}
	}

	// A refresh with a revoked token is refused; the connection stays.
	c := s.dial(bearer(hs(t, "alice", time.Minute)), "")
	for tok, desc := range map[string]string{
		issuedAt(t, "alice", at.Add(-time.Second), time.Hour): "token revoked",
		issuedAt(t, "alice", time.Time{}, time.Hour):          noIat,
	} {
		reply := roundTrip(t, c, command{Type: "refresh", Token: tok})
		if reply.Type != "error" || !strings.HasSuffix(reply.Error, desc) {
			t.Fatalf("refresh with a revoked token: %+v, want the error %q", reply, desc)
		}
		echoes(t, c)
	}
	if reply := roundTrip(t, c, command{Type: "refresh", Token: hs(t, "alice", time.Hour)}); reply.Type != "refreshed" {
		t.Fatalf("refresh with a token issued after: %+v", reply)
	}

	// A token without a subject is never looked up, even if "" is revoked.
	anon := newServerOn(t, reg, auth.HMAC(secret), nil, auth.WithAnonymous(), middleware.WithLogger(discardLogger()))
	echoes(t, anon.dial(bearer(issuedAt(t, "", time.Time{}, time.Minute)), ""))
}

// TestRevocationHoldsByDefault: the auth policy with no option in front
// of middleware.Handler. After Revoke, the subject's connection is closed,
// its old token gets 401 "token revoked" on reconnect (through every token
// source) and at refresh, a token issued after the revocation connects,
// and another subject is untouched.
func TestRevocationHoldsByDefault(t *testing.T) {
	t.Parallel()
	reg := lifecycle.NewRegistry()
	s := newServerOn(t, reg, auth.HMAC(secret), nil, middleware.WithLogger(discardLogger()))
	old := issuedAt(t, "alice", time.Now().Add(-time.Minute), time.Hour)
	bobs := issuedAt(t, "bob", time.Now().Add(-time.Minute), time.Hour)
	c := s.dial(bearer(old), "")
	echoes(t, c) // the handler runs: the connection is registered
	bob := s.dial(bearer(bobs), "")
	echoes(t, bob)

	if n := reg.Revoke("alice"); n != 1 {
		t.Fatalf("Revoke closed %d connections, want 1", n)
	}
	if f, _, err := c.ReadUntilClose(5 * time.Second); err != nil || f.CloseCode() != 1008 || f.CloseReason() != "session revoked" {
		t.Fatalf("Close %d %q (%v), want 1008 session revoked", f.CloseCode(), f.CloseReason(), err)
	}
	c.WriteClose(1008, "")
	if ev := s.next(); ev.subject != "alice" || !errors.Is(ev.info.Cause, lifecycle.ErrSessionRevoked) {
		t.Fatalf("closed %q with %v", ev.subject, ev.info.Cause)
	}

	// The old token no longer opens a connection, from any source.
	want := invalidToken("token revoked")
	if got := s.refused(bearer(old), ""); got != want {
		t.Fatalf("old token: WWW-Authenticate %q, want %q", got, want)
	}
	if got := s.refused(nil, "access_token="+old); got != want {
		t.Fatalf("old token in the query: WWW-Authenticate %q, want %q", got, want)
	}
	if got := s.refused(http.Header{"Sec-Websocket-Protocol": {"bearer, " + old}}, ""); got != want {
		t.Fatalf("old token in the subprotocol: WWW-Authenticate %q, want %q", got, want)
	}

	// A token issued after the revocation's second (a new login) connects,
	// and a refresh with the old one is refused without closing it.
	<-time.After(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	fresh := s.dial(bearer(hs(t, "alice", time.Hour)), "")
	echoes(t, fresh)
	if reply := roundTrip(t, fresh, command{Type: "refresh", Token: old}); reply.Type != "error" || !strings.Contains(reply.Error, "token revoked") {
		t.Fatalf("refresh with the old token: %+v, want the error \"token revoked\"", reply)
	}
	echoes(t, fresh)

	// Bob was not revoked: his connection stays and his token still works.
	echoes(t, bob)
	echoes(t, s.dial(bearer(bobs), ""))
}

// TestRevocationHoldsInBand: Authenticate refuses a revoked subject's
// older token, and one without iat, leaving the connection open and
// unauthenticated; a token issued after the revocation binds.
func TestRevocationHoldsInBand(t *testing.T) {
	t.Parallel()
	s := newInband(t, auth.WithTokenOptional())
	url := wstest.Server(t, s.handler())
	connx.RevokeAt(s.reg, "alice", time.Now().Add(-2*time.Second))

	ws, _, err := websocket.DefaultDialer.Dial(url+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for tok, desc := range map[string]string{
		issuedAt(t, "alice", time.Now().Add(-time.Minute), time.Hour): "token revoked",
		issuedAt(t, "alice", time.Time{}, time.Hour):                  noIat,
	} {
		if r := send(t, ws, command{Type: "auth", Token: tok}); r.Type != "error" || !strings.HasSuffix(r.Error, desc) {
			t.Fatalf("Authenticate with a revoked token: %+v, want the error %q", r, desc)
		}
		if r := send(t, ws, command{Type: "claims"}); r.Sub != "" {
			t.Fatalf("a refused token bound a session: %+v", r)
		}
	}
	if r := send(t, ws, command{Type: "auth", Token: hs(t, "alice", time.Hour)}); r.Type != "ok" {
		t.Fatalf("Authenticate with a token issued after the revocation: %+v", r)
	}
	if r := send(t, ws, command{Type: "claims"}); r.Sub != "alice" {
		t.Fatalf("claims %+v, want alice's", r)
	}
}

// revokeBeforeJoin is a policy whose upgrade check, after the auth
// policy's, revokes subject: the revocation lands between the token's
// check and the connection's joining the Registry.
func revokeBeforeJoin(subject string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = policy.BeforeUpgrade(r, func(_ http.ResponseWriter, _ *http.Request, reg *lifecycle.Registry) bool {
				reg.Revoke(subject)
				return true
			})
			next.ServeHTTP(w, r)
		})
	}
}

// TestRevocationDuringUpgrade: a revocation made after the token was
// checked but before the connection joined the Registry still ends it,
// with 1008 "session revoked", before the handler runs.
func TestRevocationDuringUpgrade(t *testing.T) {
	t.Parallel()
	s := &server{t: t, reg: lifecycle.NewRegistry(), closed: make(chan closeEvent, 10)}
	a, err := auth.New(auth.HMAC(secret), middleware.WithLogger(discardLogger()))
	if err != nil {
		t.Fatal(err)
	}
	onClose := middleware.OnClose(func(c *lifecycle.Conn, info lifecycle.CloseInfo) {
		s.closed <- closeEvent{subject: c.Subject(), info: info}
	})
	h := onClose(a.Middleware(revokeBeforeJoin("alice")(middleware.Handler(s.reg, conntest.Serve(s.serve)))))
	s.url = wstest.Server(t, h) + "/ws"

	c := s.dial(bearer(issuedAt(t, "alice", time.Now().Add(-time.Minute), time.Hour)), "")
	closedBeforeHandler(t, s, c, 1008, "session revoked", lifecycle.ErrSessionRevoked, auth.ErrTokenRevoked)
}

// closedBeforeHandler checks that c gets code and reason, that the close's
// cause matches every one of causes, and that no handler ran.
func closedBeforeHandler(t *testing.T, s *server, c *wstest.RawClient, code int, reason string, causes ...error) {
	t.Helper()
	if f, _, err := c.ReadUntilClose(5 * time.Second); err != nil || f.CloseCode() != code || f.CloseReason() != reason {
		t.Fatalf("Close %d %q (%v), want %d %s", f.CloseCode(), f.CloseReason(), err, code, reason)
	}
	c.WriteClose(code, "")
	ev := s.next()
	for _, cause := range causes {
		if !errors.Is(ev.info.Cause, cause) {
			t.Fatalf("cause %v, want %v", ev.info.Cause, cause)
		}
	}
	if n := s.handled.Load(); n != 0 {
		t.Fatalf("%d handlers ran", n)
	}
}

// TestRevokedTokenCloseAfterUpgrade: with WithCloseAfterUpgrade, a revoked
// token gets the 101 and then the configured close, like any refused
// token, and the handler never runs.
func TestRevokedTokenCloseAfterUpgrade(t *testing.T) {
	t.Parallel()
	reg := lifecycle.NewRegistry()
	connx.RevokeAt(reg, "alice", time.Now().Add(-2*time.Second))
	s := newServerOn(t, reg, auth.HMAC(secret), nil, auth.WithCloseAfterUpgrade(4401, "Unauthorized"), middleware.WithLogger(discardLogger()))
	c := s.dial(bearer(issuedAt(t, "alice", time.Now().Add(-time.Minute), time.Hour)), "")
	closedBeforeHandler(t, s, c, 4401, "Unauthorized", auth.ErrTokenRevoked)
}

// TestWithoutRevocationCheck: the opt-out lets a revoked subject's older
// token (and one without iat) open a session again; Revoke still closes
// the live connections.
func TestWithoutRevocationCheck(t *testing.T) {
	t.Parallel()
	reg := lifecycle.NewRegistry()
	s := newServerOn(t, reg, auth.HMAC(secret), nil, auth.WithoutRevocationCheck(), middleware.WithLogger(discardLogger()))
	old := issuedAt(t, "alice", time.Now().Add(-time.Minute), time.Hour)
	c := s.dial(bearer(old), "")
	echoes(t, c)
	if n := reg.Revoke("alice"); n != 1 {
		t.Fatalf("Revoke closed %d connections, want 1", n)
	}
	if f, _, err := c.ReadUntilClose(5 * time.Second); err != nil || f.CloseCode() != 1008 {
		t.Fatalf("Close %d (%v), want 1008", f.CloseCode(), err)
	}
	echoes(t, s.dial(bearer(old), ""))
	echoes(t, s.dial(bearer(issuedAt(t, "alice", time.Time{}, time.Hour)), ""))
}

// TestRevocationDuringAuthenticate: a revocation that comes while
// Authenticate binds the session (here from a subject check, after the
// token's check and before the subject is indexed, where Revoke cannot
// find the connection) closes it with 1008 "session revoked", as Revoke
// would have a moment later, and Authenticate reports that close.
func TestRevocationDuringAuthenticate(t *testing.T) {
	t.Parallel()
	s := newInband(t, auth.WithTokenOptional())
	s.errs = make(chan error, 1)
	revoking := middleware.Policy(func(c *lifecycle.Conn) error {
		connx.AddSubjectCheck(c, func(c *lifecycle.Conn, subject string) (func(), error) {
			if subject != "" {
				connx.RegistryOf(c).Revoke(subject)
			}
			return nil, nil
		})
		return nil
	})
	onClose := middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { s.closed <- info })
	url := wstest.Server(t, onClose(s.a.Middleware(revoking(middleware.Handler(s.reg, conntest.Serve(s.serve))))))
	ws, _, err := websocket.DefaultDialer.Dial(url+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteJSON(command{Type: "auth", Token: hs(t, "ivan", time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var ce *lifecycle.CloseError
	if err := <-s.errs; !errors.As(err, &ce) || ce.Code != 1008 || !errors.Is(err, auth.ErrTokenRevoked) {
		t.Fatalf("Authenticate: %v, want the 1008 close of the revocation", err)
	}
	if code, reason, _ := readClose(ws); code != 1008 || reason != "session revoked" {
		t.Fatalf("close %d %q, want 1008 session revoked", code, reason)
	}
	if info := <-s.closed; !errors.Is(info.Cause, lifecycle.ErrSessionRevoked) || info.Cause.Error() != "session revoked" {
		t.Fatalf("cause %v, want the revocation's", info.Cause)
	}
}
