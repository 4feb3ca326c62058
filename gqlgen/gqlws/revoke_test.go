package gqlws_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/gqlgen/gqlws"
)

// tokenIssued signs an HS256 token for sub issued at iat, valid for an
// hour.
func tokenIssued(t *testing.T, sub string, iat time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   sub,
		IssuedAt:  jwt.NewNumericDate(iat),
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRevocationHolds: with no option, after Registry.Revoke the revoked
// subject's older token is refused at the upgrade (401 "token revoked")
// and at connection_init (4403 "Forbidden: token revoked"); a token issued
// after the revocation gets in.
func TestRevocationHolds(t *testing.T) {
	t.Parallel()
	s := newGQLServer(t, serverConfig{})
	old := tokenIssued(t, "gina", time.Now().Add(-time.Minute))
	live := s.dial(gqlws.SubprotocolTransportWS, nil)
	live.send(initMsg(old))
	live.readUntil("connection_ack")
	if n := s.reg.Revoke("gina"); n != 1 {
		t.Fatalf("Revoke: %d, want 1", n)
	}
	if code, reason := live.closed(); code != 1008 || reason != "session revoked" {
		t.Fatalf("live connection: close %d %q, want 1008 session revoked", code, reason)
	}
	s.next()

	// At the upgrade.
	d := websocket.Dialer{Subprotocols: []string{gqlws.SubprotocolTransportWS}}
	_, resp, err := d.Dial(s.url, http.Header{"Authorization": {"Bearer " + old}})
	want := `Bearer error="invalid_token", error_description="token revoked"`
	if err == nil || resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != want {
		t.Fatalf("old token at the upgrade: %v %v, want 401 %s", err, resp.Header.Get("WWW-Authenticate"), want)
	}

	// At connection_init.
	c := s.dial(gqlws.SubprotocolTransportWS, nil)
	c.send(initMsg(old))
	if code, reason := c.closed(); code != int(gqlws.StatusForbidden) || reason != "Forbidden: token revoked" {
		t.Fatalf("old token at connection_init: close %d %q, want 4403 Forbidden: token revoked", code, reason)
	}
	if e := s.next(); !errors.Is(e.info.Cause, auth.ErrTokenRevoked) || !errors.Is(e.info.Cause, gqlws.ErrInitRefused) {
		t.Fatalf("cause %v, want ErrInitRefused and auth.ErrTokenRevoked", e.info.Cause)
	}

	// A new login, in a later second than the revocation's.
	<-time.After(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	fresh := s.dial(gqlws.SubprotocolTransportWS, nil)
	fresh.send(initMsg(tokenIssued(t, "gina", time.Now())))
	fresh.readUntil("connection_ack")
	fresh.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	fresh.closed()
	s.next()
	s.settle()
}

// TestReconnectOnTokenExpiry: with the option, a token that expires during
// the session closes it with 4403 "Forbidden: token expired" (which
// graphql-ws retries), cause auth.ErrTokenExpired; a token at the upgrade
// follows it too.
func TestReconnectOnTokenExpiry(t *testing.T) {
	t.Parallel()
	s := newGQLServer(t, serverConfig{adapter: []gqlws.Option{gqlws.WithReconnectOnTokenExpiry()}})
	for _, atUpgrade := range []bool{false, true} {
		tok := token(t, "hugo", time.Second)
		var header http.Header
		if atUpgrade {
			header = http.Header{"Authorization": {"Bearer " + tok}}
			tok = ""
		}
		c := s.dial(gqlws.SubprotocolTransportWS, header)
		c.send(initMsg(tok))
		c.readUntil("connection_ack")
		c.send(subscribeMsg("1", "subscribe", 50))
		c.readUntil("next")
		if code, reason := c.closed(); code != int(gqlws.StatusForbidden) || reason != "Forbidden: token expired" {
			t.Fatalf("token at the upgrade %v: close %d %q, want 4403 Forbidden: token expired", atUpgrade, code, reason)
		}
		if e := s.next(); !errors.Is(e.info.Cause, auth.ErrTokenExpired) {
			t.Fatalf("cause %v, want auth.ErrTokenExpired", e.info.Cause)
		}
	}
	s.settle()
}
