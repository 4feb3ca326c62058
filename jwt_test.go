package wsmw_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw"
	"github.com/wsmw/wsmw/internal/wstest"
)

var jwtSecret = []byte("at least 32 random bytes, really!")

// signed returns an HS256 token for sub issued at iat (no iat when zero),
// valid for an hour.
func signed(t *testing.T, sub string, iat time.Time) string {
	t.Helper()
	c := jwt.RegisteredClaims{Subject: sub, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}
	if !iat.IsZero() {
		c.IssuedAt = jwt.NewNumericDate(iat)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(jwtSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRevocationHoldsWithNoOption: wsmw.JWT with no option in front of
// wsmw.Handler and wsmw.EventHandler, as the README's quickstart has it.
// Revoke closes the subject's connection with 1008 "session revoked"; the
// same token is then refused with 401 "token revoked", a token without
// iat with a reason that names iat, and a token issued after the
// revocation connects.
func TestRevocationHoldsWithNoOption(t *testing.T) {
	t.Parallel()
	echo := func(c *wsmw.Conn, mt wsmw.MessageType, msg []byte) { c.WriteMessage(mt, msg) }
	for name, endpoint := range map[string]func(*wsmw.Registry) http.Handler{
		"Handler": func(reg *wsmw.Registry) http.Handler {
			return wsmw.Handler(reg, func(c *wsmw.Conn, _ *http.Request) {
				for {
					mt, msg, err := c.ReadMessage()
					if err != nil {
						return
					}
					echo(c, mt, msg)
				}
			})
		},
		"EventHandler": func(reg *wsmw.Registry) http.Handler { return wsmw.EventHandler(reg, echo) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			reg := wsmw.NewRegistry()
			defer reg.Shutdown(t.Context())
			url := wstest.Server(t, wsmw.JWT(wsmw.HMAC(jwtSecret))(endpoint(reg)))
			dial := func(tok string) (*websocket.Conn, *http.Response, error) {
				return websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + tok}})
			}
			old := signed(t, "alice", time.Now().Add(-time.Minute))
			ws, _, err := dial(old)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			ws.WriteMessage(websocket.TextMessage, []byte("hi"))
			if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "hi" {
				t.Fatalf("echo: %q %v", msg, err)
			}

			if n := reg.Revoke("alice"); n != 1 {
				t.Fatalf("Revoke: %d, want 1", n)
			}
			if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, 1008) || !strings.Contains(err.Error(), "session revoked") {
				t.Fatalf("after Revoke: %v, want 1008 session revoked", err)
			}
			for tok, desc := range map[string]string{
				old:                             "token revoked",
				signed(t, "alice", time.Time{}): "token has no iat; subject was revoked",
			} {
				_, resp, err := dial(tok)
				want := `Bearer error="invalid_token", error_description="` + desc + `"`
				if err == nil || resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != want {
					t.Fatalf("reconnect: %v %v, want 401 %s", err, resp.Header.Get("WWW-Authenticate"), want)
				}
			}

			// iat counts whole seconds: a token of the next second connects.
			<-time.After(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
			fresh, _, err := dial(signed(t, "alice", time.Now()))
			if err != nil {
				t.Fatalf("a token issued after the revocation: %v", err)
			}
			fresh.Close()
		})
	}
}
