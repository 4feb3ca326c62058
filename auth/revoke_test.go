package auth_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// revocationList is a fixed RevocationList.
type revocationList map[string]time.Time

func (l revocationList) RevokedAt(subject string) (time.Time, bool) {
	at, ok := l[subject]
	return at, ok
}

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

// TestRevocationList: with WithRevocations, a token of a revoked subject
// issued before the second of the revocation, or without iat, is refused
// at the upgrade and at a refresh; tokens issued in that second or later,
// and other subjects' tokens, pass.
func TestRevocationList(t *testing.T) {
	t.Parallel()
	// Revoked 10 s ago, 600 ms into a second.
	sec := time.Now().Truncate(time.Second).Add(-10 * time.Second)
	at := sec.Add(600 * time.Millisecond)
	list := revocationList{"alice": at, "": at}
	opts := []middleware.Option{auth.WithRevocations(list), middleware.WithLogger(discardLogger())}
	a, err := auth.New(auth.HMAC(secret), opts...)
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, auth.HMAC(secret), opts...)

	for _, tc := range []struct {
		name, token, desc string
	}{
		{"issued the second before", issuedAt(t, "alice", sec.Add(-time.Millisecond), time.Hour), "token revoked"},
		{"issued an hour before", issuedAt(t, "alice", at.Add(-time.Hour), time.Hour), "token revoked"},
		{"no iat", issuedAt(t, "alice", time.Time{}, time.Hour), "token revoked"},
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
		var is error
		if tc.desc == "token revoked" {
			is = auth.ErrTokenRevoked
		}
		checkRefusal(t, s, a, tc.name, tc.token, tc.desc, is)
	}

	// A refresh with a revoked token is refused; the connection stays.
	c := s.dial(bearer(hs(t, "alice", time.Minute)), "")
	reply := roundTrip(t, c, command{Type: "refresh", Token: issuedAt(t, "alice", at.Add(-time.Second), time.Hour)})
	if reply.Type != "error" || !strings.Contains(reply.Error, "token revoked") {
		t.Fatalf("refresh with a revoked token: %+v, want the error \"token revoked\"", reply)
	}
	echoes(t, c)
	if reply := roundTrip(t, c, command{Type: "refresh", Token: hs(t, "alice", time.Hour)}); reply.Type != "refreshed" {
		t.Fatalf("refresh with a token issued after: %+v", reply)
	}

	// A token without a subject is never looked up, even if "" is listed.
	anon := newServer(t, auth.HMAC(secret), append(opts, auth.WithAnonymous())...)
	anon.dial(bearer(issuedAt(t, "", time.Time{}, time.Minute)), "")
}

// TestRevocationHoldsWithRegistry: a Registry is the RevocationList. After
// Revoke, the subject's connection is closed, its old token gets 401
// "token revoked" on reconnect and at refresh, and a token issued after
// the revocation connects.
func TestRevocationHoldsWithRegistry(t *testing.T) {
	t.Parallel()
	reg := lifecycle.NewRegistry()
	s := newServerOn(t, reg, auth.HMAC(secret), nil, auth.WithRevocations(reg), middleware.WithLogger(discardLogger()))
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

	// The old token no longer opens a connection; neither does one
	// without iat.
	want := invalidToken("token revoked")
	for name, tok := range map[string]string{"old": old, "no iat": issuedAt(t, "alice", time.Time{}, time.Hour)} {
		if got := s.refused(bearer(tok), ""); got != want {
			t.Fatalf("%s token: WWW-Authenticate %q, want %q", name, got, want)
		}
		if got := s.refused(nil, "access_token="+tok); got != want {
			t.Fatalf("%s token in the query: WWW-Authenticate %q, want %q", name, got, want)
		}
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
	s.dial(bearer(bobs), "")
}

// flipList is revoked from its nth question on: the revocation lands
// between the token's check at the upgrade and the connection's join.
type flipList struct {
	asked atomic.Int32
	nth   int32
}

func (l *flipList) RevokedAt(string) (time.Time, bool) {
	if l.asked.Add(1) < l.nth {
		return time.Time{}, false
	}
	return time.Now(), true
}

// TestRevocationDuringUpgrade: a revocation made after the token was
// checked but before the connection joined the Registry still ends it,
// with 1008 "session revoked", before the handler runs.
func TestRevocationDuringUpgrade(t *testing.T) {
	t.Parallel()
	list := &flipList{nth: 2}
	s := newServer(t, auth.HMAC(secret), auth.WithRevocations(list), middleware.WithLogger(discardLogger()))
	c := s.dial(bearer(issuedAt(t, "alice", time.Now().Add(-time.Minute), time.Hour)), "")
	if f, _, err := c.ReadUntilClose(5 * time.Second); err != nil || f.CloseCode() != 1008 || f.CloseReason() != "session revoked" {
		t.Fatalf("Close %d %q (%v), want 1008 session revoked", f.CloseCode(), f.CloseReason(), err)
	}
	c.WriteClose(1008, "")
	ev := s.next()
	if !errors.Is(ev.info.Cause, lifecycle.ErrSessionRevoked) || !errors.Is(ev.info.Cause, auth.ErrTokenRevoked) {
		t.Fatalf("cause %v, want ErrSessionRevoked and ErrTokenRevoked", ev.info.Cause)
	}
	if n := s.handled.Load(); n != 0 {
		t.Fatalf("%d handlers ran", n)
	}
	if n := list.asked.Load(); n != 2 {
		t.Fatalf("the list was asked %d times, want 2 (the check, the join)", n)
	}
}
