package auth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/middleware"
)

// noSubject signs a token without sub, or with sub "" when empty is true.
func noSubject(t *testing.T, empty bool) string {
	c := claims("", time.Minute)
	if !empty {
		return sign(t, jwt.SigningMethodHS256, secret, c)
	}
	m := jwt.MapClaims{"sub": "", "iat": c.IssuedAt.Unix(), "exp": c.ExpiresAt.Unix()}
	return sign(t, jwt.SigningMethodHS256, secret, m)
}

// A token without a subject is refused by default, from every source and
// at a refresh.
func TestSubjectRequired(t *testing.T) {
	t.Parallel()
	s := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()))
	want := invalidToken("token has no subject")
	for _, empty := range []bool{false, true} {
		tok := noSubject(t, empty)
		if got := s.refused(bearer(tok), ""); got != want {
			t.Errorf("header, empty=%v: WWW-Authenticate %q, want %q", empty, got, want)
		}
		if got := s.refused(http.Header{"Sec-WebSocket-Protocol": {"bearer, " + tok}}, ""); got != want {
			t.Errorf("subprotocol, empty=%v: WWW-Authenticate %q, want %q", empty, got, want)
		}
		if got := s.refused(nil, "access_token="+tok); got != want {
			t.Errorf("query, empty=%v: WWW-Authenticate %q, want %q", empty, got, want)
		}
	}
	if n := s.handled.Load(); n != 0 {
		t.Fatalf("%d handlers ran", n)
	}
}

// WithAnonymous lets tokens without a subject in: the connection has no
// subject, and a refresh with another anonymous token works.
func TestAnonymous(t *testing.T) {
	t.Parallel()
	s := newServer(t, auth.HMAC(secret), auth.WithAnonymous(), middleware.WithLogger(discardLogger()))
	for _, empty := range []bool{false, true} {
		c := s.dial(bearer(noSubject(t, empty)), "")
		if reply := roundTrip(t, c, command{Type: "claims"}); reply.Sub != "" || reply.CtxSub != "" {
			t.Fatalf("subject %q / %q, want none", reply.Sub, reply.CtxSub)
		}
		if reply := roundTrip(t, c, command{Type: "refresh", Token: noSubject(t, !empty)}); reply.Type != "refreshed" {
			t.Fatalf("anonymous refresh: %+v", reply)
		}
		// A subject's token is another subject than none.
		if reply := roundTrip(t, c, command{Type: "refresh", Token: hs(t, "alice", time.Minute)}); reply.Type != "error" {
			t.Fatalf("refresh with alice's token: %+v, want an error", reply)
		}
		c.Close()
		if ev := s.next(); ev.subject != "" {
			t.Fatalf("closed connection's subject %q, want none", ev.subject)
		}
	}
	// Tokens with a subject still work, and keep it.
	c := s.dial(bearer(hs(t, "alice", time.Minute)), "")
	if reply := roundTrip(t, c, command{Type: "claims"}); reply.Sub != "alice" {
		t.Fatalf("subject %q, want alice", reply.Sub)
	}
}
