package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// An upgrade without a token is refused before the upgrade.
func ExampleJWT() {
	reg := lifecycle.NewRegistry()
	policy := auth.JWT(auth.HMAC([]byte("a 32-byte secret for the example")))
	h := policy(middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		fmt.Println("hello", c.Subject()) // the token's sub
	}))

	r := httptest.NewRequest("GET", "/ws", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output: 401 Bearer
}

// Refresh from a handler, as the example server's {"type":"refresh"}
// message does: a refused refresh leaves the connection open.
func ExampleRefresh() {
	secret := []byte("a 32-byte secret for the example")
	token := func(sub string) string {
		t, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
			Subject: sub, IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
		}).SignedString(secret)
		return t
	}
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	h := auth.JWT(auth.HMAC(secret))(middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return // includes 1008 "token expired" when no refresh came
			}
			reply := "refreshed"
			if err := auth.Refresh(c, string(msg)); errors.Is(err, auth.ErrSubjectMismatch) {
				reply = "refused: another subject"
			} else if err != nil {
				reply = "refused: invalid token"
			}
			c.WriteMessage(lifecycle.TextMessage, []byte(reply))
		}
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"),
		http.Header{"Authorization": {"Bearer " + token("alice")}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	for _, tok := range []string{token("bob"), "garbage", token("alice")} {
		ws.WriteMessage(websocket.TextMessage, []byte(tok))
		_, reply, _ := ws.ReadMessage()
		fmt.Println(string(reply))
	}
	// Output:
	// refused: another subject
	// refused: invalid token
	// refreshed
}

// The 401 of a refused upgrade carries an RFC 6750 challenge that names
// the one reason, after the realm that WithRealm sets.
func ExampleWithRealm() {
	secret := []byte("a 32-byte secret for the example")
	h := auth.JWT(auth.HMAC(secret), auth.WithRealm("chat"))(
		middleware.Handler(lifecycle.NewRegistry(), func(*lifecycle.Conn, *http.Request) {}))
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Hour)),
	}).SignedString(secret)
	for _, authorization := range []string{"", "Bearer " + expired} {
		r := httptest.NewRequest("GET", "/ws", nil)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// Bearer realm="chat"
	// Bearer realm="chat", error="invalid_token", error_description="token expired"
}

// A browser cannot set headers on a WebSocket, but it can offer
// subprotocols: the token goes as the entry after "bearer", and the
// server selects "bearer", never the token.
func ExampleFromSubprotocol() {
	secret := []byte("a 32-byte secret for the example")
	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: "alice", IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString(secret)
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	subject := make(chan string, 1)
	h := auth.JWT(auth.HMAC(secret), auth.WithSources(auth.FromSubprotocol()))(
		middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) { subject <- c.Subject() }))
	srv := httptest.NewServer(h)
	defer srv.Close()

	dialer := websocket.Dialer{Subprotocols: []string{"bearer", token}} // new WebSocket(url, ["bearer", token])
	ws, _, err := dialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	fmt.Println(ws.Subprotocol(), <-subject)
	// Output: bearer alice
}

// Custom claims, an issuer and audience, leeway, a warning before expiry
// and a revocation check every minute.
func ExampleNew() {
	type myClaims struct {
		Role string `json:"role"`
		jwt.RegisteredClaims
	}
	a, err := auth.New(auth.HMAC([]byte("a 32-byte secret for the example")),
		auth.WithIssuer("https://auth.example.com"),
		auth.WithAudience("chat"),
		auth.WithLeeway(5*time.Second),
		auth.WithClaims(func() jwt.Claims { return new(myClaims) }),
		auth.WithExpiryWarning(time.Minute, func(c *lifecycle.Conn, exp time.Time) {
			c.WriteMessage(lifecycle.TextMessage, []byte(`{"type":"token_expiring"}`))
		}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	var _ func(http.Handler) http.Handler = a.Middleware
	fmt.Println(a.Algorithms())
	// Output: [HS256 HS384 HS512]
}

// Revocation that holds, with no option: the Registry remembers Revoke,
// and the policy in front of an endpoint whose connections join that
// Registry refuses the subject's tokens issued before it, so a revoked user
// cannot reconnect with the token they had; a token issued later (a new
// login) is accepted.
func Example_revocation() {
	secret := []byte("a 32-byte secret for the example")
	reg := lifecycle.NewRegistry(lifecycle.WithRevocationTTL(24 * time.Hour)) // the longest token lifetime
	defer reg.Shutdown(context.Background())
	h := auth.JWT(auth.HMAC(secret))(middleware.Handler(reg, func(*lifecycle.Conn, *http.Request) {}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	token := func(issued time.Time) string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
			Subject:   "alice",
			IssuedAt:  jwt.NewNumericDate(issued),
			ExpiresAt: jwt.NewNumericDate(issued.Add(time.Hour)),
		}).SignedString(secret)
		return s
	}
	old := token(time.Now().Add(-time.Minute))

	connx.RevokeAt(reg, "alice", time.Now().Add(-2*time.Second)) // closes alice's connections, and is remembered
	for _, tok := range []string{old, token(time.Now())} {
		ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"),
			http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			continue
		}
		fmt.Println(resp.StatusCode)
		ws.Close()
	}
	// Output:
	// 401 Bearer error="invalid_token", error_description="token revoked"
	// 101
}

// graphql-transport-ws clients expect 4401 when their token is refused or
// expires: WithCloseAfterUpgrade for a bad token (the browser gets a 101,
// then the close it can read), middleware.WithClose for the token's expiry.
func ExampleWithCloseAfterUpgrade() {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	policy := auth.JWT(auth.HMAC([]byte("a 32-byte secret for the example")),
		auth.WithCloseAfterUpgrade(4401, "Unauthorized"), // a bad token: 101, then 4401
		middleware.WithClose(4401, "Unauthorized"),       // at exp: 4401 instead of 1008
	)
	srv := httptest.NewServer(policy(middleware.Handler(reg, func(*lifecycle.Conn, *http.Request) {})))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"?access_token=bad", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	_, _, err = ws.ReadMessage()
	fmt.Println(err)
	// Output: websocket: close 4401: Unauthorized
}
