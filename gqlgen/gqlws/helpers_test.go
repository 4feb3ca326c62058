package gqlws_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"

	"github.com/wsmw/wsmw/gqlgen/example/graph"
	"github.com/wsmw/wsmw/gqlgen/gqlws"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// token signs an HS256 token for sub that expires after ttl.
func token(t testing.TB, sub string, ttl time.Duration) string {
	t.Helper()
	now := time.Now()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   sub,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// ended is one connection's end as its OnClose hook saw it.
type ended struct {
	conn *lifecycle.Conn
	info lifecycle.CloseInfo
}

// gqlServer is the adapter in front of the example's schema, with the JWT
// policy (TokenOptional) and an OnClose recorder, on 127.0.0.1.
type gqlServer struct {
	t      *testing.T
	url    string // ws://…/query
	reg    *lifecycle.Registry
	authn  *auth.Authenticator
	ended  chan ended
	active sync.WaitGroup // requests inside the handler

	mu        sync.Mutex
	hooks     map[*lifecycle.Conn]int
	errorFunc []error  // gqlgen's ErrorFunc calls
	closeFunc chan int // gqlgen's CloseFunc codes
}

type serverConfig struct {
	adapter  []gqlws.Option
	ws       transport.Websocket
	policies []func(http.Handler) http.Handler
	noWS     bool // no Websocket transport on the gqlgen server
	noWrap   bool // gqlgen's handler without Adapter.Handler
	byHand   bool // transport.Websocket{Implementation: a}, without Adapter.Websocket
	around   func(*handler.Server)
}

func newGQLServer(t *testing.T, cfg serverConfig) *gqlServer {
	t.Helper()
	authn, err := auth.New(auth.HMAC(secret), auth.WithTokenOptional(), middleware.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	s := &gqlServer{t: t, reg: lifecycle.NewRegistry(), authn: authn, ended: make(chan ended, 64), hooks: map[*lifecycle.Conn]int{}}
	opts := append([]gqlws.Option{gqlws.WithAuthenticator(authn), gqlws.WithLogger(quietLogger())}, cfg.adapter...)
	a := gqlws.New(s.reg, opts...)

	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}))
	ws := cfg.ws
	ws.ErrorFunc = func(_ context.Context, err error) {
		s.mu.Lock()
		s.errorFunc = append(s.errorFunc, err)
		s.mu.Unlock()
	}
	s.closeFunc = make(chan int, 64)
	ws.CloseFunc = func(_ context.Context, code int) { s.closeFunc <- code }
	switch {
	case cfg.noWS:
	case cfg.byHand:
		ws.Implementation = a
		srv.AddTransport(ws)
	default:
		srv.AddTransport(a.Websocket(ws))
	}
	if cfg.around != nil {
		cfg.around(srv)
	}
	srv.AddTransport(transport.POST{})

	var h http.Handler = srv
	if !cfg.noWrap {
		h = a.Handler(srv)
	}
	onClose := middleware.OnClose(func(c *lifecycle.Conn, info lifecycle.CloseInfo) {
		s.mu.Lock()
		s.hooks[c]++
		s.mu.Unlock()
		s.ended <- ended{c, info}
	})
	chain := append([]func(http.Handler) http.Handler{onClose, authn.Middleware}, cfg.policies...)
	for i := len(chain) - 1; i >= 0; i-- {
		h = chain[i](h)
	}
	inner := h
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.active.Add(1)
		defer s.active.Done()
		inner.ServeHTTP(w, r)
	})
	hs := httptest.NewServer(h) // 127.0.0.1
	s.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/query"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.reg.Shutdown(ctx)
		hs.Close()
		s.active.Wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		for c, n := range s.hooks {
			if n != 1 {
				t.Errorf("connection %p: %d OnClose calls, want exactly 1", c, n)
			}
		}
	})
	return s
}

// next returns the next connection end.
func (s *gqlServer) next() ended {
	s.t.Helper()
	select {
	case e := <-s.ended:
		return e
	case <-time.After(15 * time.Second):
		s.t.Fatal("no connection ended within 15s")
	}
	return ended{}
}

// settle waits for every gqlgen handler to return and checks that each
// connection had exactly one OnClose call.
func (s *gqlServer) settle() {
	s.t.Helper()
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		s.t.Fatal("gqlgen handlers still running after 15s")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, n := range s.hooks {
		if n != 1 {
			s.t.Fatalf("connection %p: %d OnClose calls, want exactly 1", c, n)
		}
	}
}

// reportedErrors returns gqlgen's ErrorFunc calls other than normal ends.
func (s *gqlServer) reportedErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []error
	for _, err := range s.errorFunc {
		if !errors.Is(err, transport.ErrWebsocketClosed) {
			out = append(out, err)
		}
	}
	return out
}

// client is a raw protocol client on gorilla's.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func (s *gqlServer) dial(proto string, header http.Header) *client {
	s.t.Helper()
	d := websocket.Dialer{Subprotocols: []string{proto}, HandshakeTimeout: 5 * time.Second}
	if proto == "" {
		d.Subprotocols = nil
	}
	ws, resp, err := d.Dial(s.url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		s.t.Fatalf("dial: %v (status %d)", err, status)
	}
	s.t.Cleanup(func() { ws.Close() })
	return &client{t: s.t, ws: ws}
}

func (c *client) send(v any) {
	c.t.Helper()
	var err error
	if s, ok := v.(string); ok {
		err = c.ws.WriteMessage(websocket.TextMessage, []byte(s))
	} else {
		err = c.ws.WriteJSON(v)
	}
	if err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// message is a protocol message.
type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// read returns the next message, failing on a close.
func (c *client) read() message {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m message
	if err := c.ws.ReadJSON(&m); err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

// readUntil returns the first message of type typ.
func (c *client) readUntil(typ string) message {
	c.t.Helper()
	for {
		if m := c.read(); m.Type == typ {
			return m
		}
	}
}

// closed reads until the server's Close frame and returns its code and
// reason; gorilla echoes it.
func (c *client) closed() (int, string) {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Text
			}
			return -1, err.Error()
		}
	}
}

func initMsg(tok string) message {
	if tok == "" {
		return message{Type: "connection_init"}
	}
	p, _ := json.Marshal(map[string]string{"token": tok})
	return message{Type: "connection_init", Payload: p}
}

func subscribeMsg(id, typ string, everyMs int) message {
	p, _ := json.Marshal(map[string]any{"query": "subscription($e: Int!) { ticks(everyMs: $e) }", "variables": map[string]int{"e": everyMs}})
	return message{ID: id, Type: typ, Payload: p}
}
