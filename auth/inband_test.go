package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/ratelimit"
)

// inbandServer authenticates in band: {"type":"auth","token":…} calls
// Authenticate and answers {"type":"ok"} or {"type":"error"};
// {"type":"claims"} answers the subject seen by ClaimsOf (sub) and by
// ClaimsFromContext on a NewContext (ctx_sub).
type inbandServer struct {
	a      *auth.Authenticator
	reg    *lifecycle.Registry
	closed chan lifecycle.CloseInfo
	errs   chan error // Authenticate's errors, when not nil
}

func newInband(t *testing.T, opts ...middleware.Option) *inbandServer {
	t.Helper()
	a, err := auth.New(auth.HMAC(secret), append([]middleware.Option{middleware.WithLogger(discardLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &inbandServer{a: a, reg: lifecycle.NewRegistry(), closed: make(chan lifecycle.CloseInfo, 16)}
}

// handler is the JWT policy with TokenOptional in front of serve.
func (s *inbandServer) handler() http.Handler {
	onClose := middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { s.closed <- info })
	return onClose(s.a.Middleware(middleware.Handler(s.reg, conntest.Serve(s.serve))))
}

func (s *inbandServer) serve(c *lifecycle.Conn) {
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		var cmd command
		json.Unmarshal(msg, &cmd)
		reply := command{Type: "ok"}
		switch cmd.Type {
		case "auth":
			if err := s.a.Authenticate(c, cmd.Token); err != nil {
				reply = command{Type: "error", Error: err.Error()}
				if s.errs != nil {
					s.errs <- err
				}
			}
		case "claims":
			if cl := auth.ClaimsOf(c); cl != nil {
				reply.Sub, _ = cl.GetSubject()
			}
			if cl := auth.ClaimsFromContext(auth.NewContext(context.Background(), c)); cl != nil {
				reply.CtxSub, _ = cl.GetSubject()
			}
		}
		b, _ := json.Marshal(reply)
		if c.WriteMessage(lifecycle.TextMessage, b) != nil {
			return
		}
	}
}

func send(t *testing.T, ws *websocket.Conn, cmd command) command {
	t.Helper()
	if err := ws.WriteJSON(cmd); err != nil {
		t.Fatalf("write: %v", err)
	}
	var reply command
	if err := ws.ReadJSON(&reply); err != nil {
		t.Fatalf("read reply: %v", err)
	}
	return reply
}

func TestTokenOptionalUpgrade(t *testing.T) {
	t.Parallel()
	s := newInband(t, auth.WithTokenOptional())
	url := wstest.Server(t, s.handler())

	// No token: upgraded, unauthenticated.
	ws, _, err := websocket.DefaultDialer.Dial(url+"/ws", nil)
	if err != nil {
		t.Fatalf("dial without a token: %v", err)
	}
	defer ws.Close()
	if r := send(t, ws, command{Type: "claims"}); r.Sub != "" || r.CtxSub != "" {
		t.Fatalf("unauthenticated connection has claims: %+v", r)
	}
	if n := len(connx.SubjectConns(s.reg, "")); n != 0 {
		t.Fatalf("indexed under the empty subject: %d", n)
	}

	// A present but bad token is still 401 before the upgrade.
	for _, h := range []http.Header{bearer("garbage"), bearer(hs(t, "alice", -time.Minute)), {"Authorization": {"Bearer"}}} {
		_, resp, err := websocket.DefaultDialer.Dial(url+"/ws", h)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad token %v: err %v, response %v, want 401", h, err, resp)
		}
	}

	// A good token still authenticates at the upgrade.
	ws2, _, err := websocket.DefaultDialer.Dial(url+"/ws", bearer(hs(t, "bob", time.Hour)))
	if err != nil {
		t.Fatalf("dial with a token: %v", err)
	}
	defer ws2.Close()
	if r := send(t, ws2, command{Type: "claims"}); r.Sub != "bob" || r.CtxSub != "bob" {
		t.Fatalf("claims %+v, want bob", r)
	}
}

func TestTokenRequiredWithoutOption(t *testing.T) {
	t.Parallel()
	s := newInband(t)
	url := wstest.Server(t, s.handler())
	_, resp, err := websocket.DefaultDialer.Dial(url+"/ws", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token without TokenOptional: err %v, response %v, want 401", err, resp)
	}
}

// TestAuthenticateBindsSession: an in-band token binds the session as the
// upgrade does — subject, claims, the context, the expiry at exp (fake
// time), and Refresh afterwards.
func TestAuthenticateBindsSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newInband(t, auth.WithTokenOptional())
		start := time.Now()
		ws := pipeDial(t, s.handler(), nil)
		defer ws.Close()

		r := send(t, ws, command{Type: "auth", Token: "garbage"})
		if r.Type != "error" {
			t.Fatalf("bad token accepted: %+v", r)
		}
		if r := send(t, ws, command{Type: "claims"}); r.Sub != "" {
			t.Fatalf("a refused token left claims: %+v", r)
		}
		if r := send(t, ws, command{Type: "auth", Token: hs(t, "alice", 10*time.Second)}); r.Type != "ok" {
			t.Fatalf("in-band auth: %+v", r)
		}
		if r := send(t, ws, command{Type: "claims"}); r.Sub != "alice" || r.CtxSub != "alice" {
			t.Fatalf("claims %+v, want alice from ClaimsOf and from NewContext", r)
		}
		if conns := connx.SubjectConns(s.reg, "alice"); len(conns) != 1 {
			t.Fatalf("Registry.Subject(alice): %d connections, want 1", len(conns))
		}
		// Another subject cannot take the connection over in band.
		if r := send(t, ws, command{Type: "auth", Token: hs(t, "mallory", time.Hour)}); r.Type != "error" {
			t.Fatalf("second Authenticate with another subject: %+v, want an error", r)
		}
		// The same subject refreshes: the session now ends at 20 s.
		if r := send(t, ws, command{Type: "auth", Token: hs(t, "alice", 20*time.Second)}); r.Type != "ok" {
			t.Fatalf("second Authenticate with the same subject: %+v", r)
		}
		code, reason, at := readClose(ws)
		if code != 1008 || reason != "token expired" {
			t.Fatalf("close %d %q, want 1008 token expired", code, reason)
		}
		// exp has a one-second resolution.
		if d := at.Sub(start); d < 19*time.Second || d > 20*time.Second {
			t.Fatalf("closed after %v, want at the refreshed exp (20s)", d)
		}
		info := <-s.closed
		if !errors.Is(info.Cause, auth.ErrTokenExpired) {
			t.Fatalf("cause %v, want ErrTokenExpired", info.Cause)
		}
	})
}

// TestAuthenticateOnUpgradeSession: a connection authenticated at the
// upgrade treats Authenticate as Refresh.
func TestAuthenticateOnUpgradeSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newInband(t)
		start := time.Now()
		ws := pipeDial(t, s.handler(), bearer(hs(t, "alice", 5*time.Second)))
		defer ws.Close()
		r := send(t, ws, command{Type: "auth", Token: hs(t, "bob", time.Hour)})
		if r.Type != "error" || r.Error != auth.ErrSubjectMismatch.Error() {
			t.Fatalf("Authenticate with another subject: %+v, want ErrSubjectMismatch", r)
		}
		if r := send(t, ws, command{Type: "auth", Token: hs(t, "alice", 30*time.Second)}); r.Type != "ok" {
			t.Fatalf("Authenticate with the same subject: %+v", r)
		}
		_, _, at := readClose(ws)
		if d := at.Sub(start); d < 29*time.Second {
			t.Fatalf("closed after %v, before the refreshed exp (30s)", d)
		}
		<-s.closed
	})
}

// TestRevokeFindsInBandSession: Registry.Revoke closes a connection whose
// subject came in band.
func TestRevokeFindsInBandSession(t *testing.T) {
	t.Parallel()
	s := newInband(t, auth.WithTokenOptional())
	url := wstest.Server(t, s.handler())
	ws, _, err := websocket.DefaultDialer.Dial(url+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if r := send(t, ws, command{Type: "auth", Token: hs(t, "carol", time.Hour)}); r.Type != "ok" {
		t.Fatalf("auth: %+v", r)
	}
	if n := s.reg.Revoke("carol"); n != 1 {
		t.Fatalf("Revoke closed %d connections, want 1", n)
	}
	code, reason, _ := readClose(ws)
	if code != 1008 || reason != "session revoked" {
		t.Fatalf("close %d %q, want 1008 session revoked", code, reason)
	}
	if info := <-s.closed; !errors.Is(info.Cause, lifecycle.ErrSessionRevoked) {
		t.Fatalf("cause %v", info.Cause)
	}
}

// TestAuthenticateRaces: concurrent Authenticate calls bind one session.
func TestAuthenticateRaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, err := auth.New(auth.HMAC(secret), middleware.WithLogger(discardLogger()))
		if err != nil {
			t.Fatal(err)
		}
		other, _ := auth.New(auth.HMAC(secret), middleware.WithLogger(discardLogger()))
		reg := lifecycle.NewRegistry()
		conns := make(chan *lifecycle.Conn, 1)
		h := middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
			conns <- c
			c.ReadMessage()
		})
		ws := pipeDial(t, h, nil)
		c := <-conns
		tok := hs(t, "dave", time.Hour)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() { errs <- a.Authenticate(c, tok) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
		}
		if c.Subject() != "dave" || len(connx.SubjectConns(reg, "dave")) != 1 {
			t.Fatalf("subject %q, indexed %d times", c.Subject(), len(connx.SubjectConns(reg, "dave")))
		}
		if err := other.Authenticate(c, tok); !errors.Is(err, auth.ErrNoSession) {
			t.Fatalf("another Authenticator on a bound connection: %v, want ErrNoSession", err)
		}
		if err := a.Authenticate(nil, tok); !errors.Is(err, auth.ErrNoSession) {
			t.Fatalf("nil connection: %v", err)
		}
		ws.Close()
		c.Wait()
		var ce *lifecycle.CloseError
		if err := a.Authenticate(c, tok); !errors.As(err, &ce) {
			t.Fatalf("Authenticate after the end: %v, want the *CloseError", err)
		}
	})
}

// TestAuthenticateReportsCapRefusal: a per-subject cap after the JWT
// policy counts connections authenticated in band; when it is full,
// Authenticate returns its refusal and binds nothing: no session, no
// subject (Revoke does not find the connection), and the connection stays
// open for its owner to close, or to try again.
func TestAuthenticateReportsCapRefusal(t *testing.T) {
	t.Parallel()
	s := newInband(t, auth.WithTokenOptional())
	s.errs = make(chan error, 64) // the retries below may be refused a few times
	onClose := middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { s.closed <- info })
	capped := ratelimit.MaxConns(1, ratelimit.WithKey(ratelimit.KeyBySubject))
	url := wstest.Server(t, onClose(s.a.Middleware(capped(middleware.Handler(s.reg, conntest.Serve(s.serve))))))
	dial := func() *websocket.Conn {
		t.Helper()
		ws, _, err := websocket.DefaultDialer.Dial(url+"/ws", nil)
		if err != nil {
			t.Fatalf("dial without a token: %v", err)
		}
		t.Cleanup(func() { ws.Close() })
		return ws
	}

	first := dial()
	if r := send(t, first, command{Type: "auth", Token: hs(t, "frank", time.Hour)}); r.Type != "ok" {
		t.Fatalf("first: %+v", r)
	}
	second := dial()
	r := send(t, second, command{Type: "auth", Token: hs(t, "frank", time.Hour)})
	if r.Type != "error" || !strings.Contains(r.Error, "too many connections") {
		t.Fatalf("second: %+v, want the cap's refusal", r)
	}
	if err := <-s.errs; !errors.Is(err, ratelimit.ErrTooManyConnections) {
		t.Fatalf("Authenticate: %v, want ratelimit.ErrTooManyConnections", err)
	}
	if r := send(t, second, command{Type: "claims"}); r.Sub != "" || r.CtxSub != "" {
		t.Fatalf("the refused connection has claims: %+v", r)
	}
	if n := s.reg.Revoke("frank"); n != 1 {
		t.Fatalf("Revoke closed %d connections, want 1 (the refused one has no subject)", n)
	}
	if code, reason, _ := readClose(first); code != 1008 || reason != "session revoked" {
		t.Fatalf("first: close %d %q", code, reason)
	}
	<-s.closed
	// The slot came back with the first connection's end: the refused
	// connection may try again, with a token issued after the revocation's
	// second (the revocation holds: until then, "token revoked").
	wstest.WaitFor(t, "the refused connection to get in", 10*time.Second, func() bool {
		ok := send(t, second, command{Type: "auth", Token: hs(t, "frank", time.Hour)}).Type == "ok"
		for len(s.errs) > 0 {
			<-s.errs // refusals while the slot or the second was not free yet
		}
		return ok
	})
	if r := send(t, second, command{Type: "claims"}); r.Sub != "frank" {
		t.Fatalf("after the retry: %+v", r)
	}
}

// TestSlowSubjectCheckHoldsUpNoOtherConnection: Authenticate waits for the
// subject checks of its own connection only.
func TestSlowSubjectCheckHoldsUpNoOtherConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := auth.New(auth.HMAC(secret), middleware.WithLogger(discardLogger()))
		conns := make(chan *lifecycle.Conn, 2)
		h := middleware.Handler(lifecycle.NewRegistry(), func(c *lifecycle.Conn, _ *http.Request) { conns <- c; c.ReadMessage() })
		wsA, wsB := pipeDial(t, h, nil), pipeDial(t, h, nil)
		defer wsA.Close()
		defer wsB.Close()
		slow, other := <-conns, <-conns
		entered, release := make(chan struct{}), make(chan struct{})
		connx.AddSubjectCheck(slow, func(*lifecycle.Conn, string) (func(), error) {
			close(entered)
			<-release
			return nil, nil
		})
		done := make(chan error, 1)
		go func() { done <- a.Authenticate(slow, hs(t, "gina", time.Hour)) }()
		<-entered
		if err := a.Authenticate(other, hs(t, "hal", time.Hour)); err != nil || other.Subject() != "hal" {
			t.Fatalf("the other connection: %v, subject %q", err, other.Subject())
		}
		close(release)
		if err := <-done; err != nil || slow.Subject() != "gina" {
			t.Fatalf("the slow one: %v, subject %q", err, slow.Subject())
		}
	})
}

// TestAuthenticateAfterCloseLeavesNoSession: a connection that is closing
// is not bound.
func TestAuthenticateAfterCloseLeavesNoSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, _ := auth.New(auth.HMAC(secret), middleware.WithLogger(discardLogger()))
		conns := make(chan *lifecycle.Conn, 1)
		h := middleware.Handler(lifecycle.NewRegistry(), func(c *lifecycle.Conn, _ *http.Request) { conns <- c; c.ReadMessage() })
		ws := pipeDial(t, h, nil)
		defer ws.Close()
		c := <-conns
		connx.CloseAsync(c, nil, 1000, "")
		var ce *lifecycle.CloseError
		if err := a.Authenticate(c, hs(t, "erin", time.Hour)); !errors.As(err, &ce) {
			t.Fatalf("Authenticate while closing: %v, want the *CloseError", err)
		}
		if auth.ClaimsOf(c) != nil || c.Subject() != "" {
			t.Fatal("a closing connection was bound")
		}
		readClose(ws)
	})
}

// A protocol whose first message carries the token: the JWT policy lets
// the upgrade through without one, and the handler authenticates in band.
func ExampleAuthenticator_Authenticate() {
	a, err := auth.New(auth.HMAC(secret), auth.WithTokenOptional())
	if err != nil {
		panic(err)
	}
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	ws := middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		_, first, err := c.ReadMessage()
		if err != nil {
			return
		}
		var init struct {
			Token string `json:"token"`
		}
		json.Unmarshal(first, &init)
		if err := a.Authenticate(c, init.Token); err != nil {
			c.Close(4403, "Forbidden") // graphql-transport-ws's answer
			return
		}
		// c.Subject() is the token's subject; the session ends at its exp.
		c.WriteMessage(lifecycle.TextMessage, []byte("hello "+c.Subject()))
		c.ReadMessage()
	})
	srv := httptest.NewServer(a.Middleware(ws)) // no token at the upgrade: let through
	defer srv.Close()
	good, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString(secret)
	for _, tok := range []string{"garbage", good} {
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		ws.WriteMessage(websocket.TextMessage, []byte(`{"token":"`+tok+`"}`))
		_, msg, err := ws.ReadMessage()
		if err != nil {
			fmt.Println(err)
		} else {
			fmt.Println(string(msg))
		}
		ws.Close()
	}
	// Output:
	// websocket: close 4403: Forbidden
	// hello alice
}
