package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
	ecKey   *ecdsa.PrivateKey
	edKey   ed25519.PrivateKey
)

// keys returns test keys, made once per run.
func keys(t testing.TB) (*rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey) {
	t.Helper()
	rsaOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if _, edKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
	return rsaKey, ecKey, edKey
}

// claims returns registered claims for sub that expire after ttl.
func claims(sub string, ttl time.Duration) *jwt.RegisteredClaims {
	now := time.Now()
	return &jwt.RegisteredClaims{
		Subject:   sub,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
}

func sign(t testing.TB, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

// hs signs an HS256 token for sub with the test secret.
func hs(t testing.TB, sub string, ttl time.Duration) string {
	return sign(t, jwt.SigningMethodHS256, secret, claims(sub, ttl))
}

// closeEvent is one connection's end as its OnClose hook saw it.
type closeEvent struct {
	subject string
	info    lifecycle.CloseInfo
}

// server is a test server: the auth policy in front of an echo handler
// that also answers {"type":"refresh"} and {"type":"claims"}.
type server struct {
	t       *testing.T
	url     string
	reg     *lifecycle.Registry
	closed  chan closeEvent
	handled atomic.Int32 // handlers started
}

func newServer(t *testing.T, key auth.Key, opts ...middleware.Option) *server {
	t.Helper()
	return newServerWith(t, key, nil, opts...)
}

func newServerWith(t *testing.T, key auth.Key, upOpts []middleware.Option, opts ...middleware.Option) *server {
	t.Helper()
	return newServerOn(t, lifecycle.NewRegistry(), key, upOpts, opts...)
}

// newServerOn is newServerWith for connections that join reg.
func newServerOn(t *testing.T, reg *lifecycle.Registry, key auth.Key, upOpts []middleware.Option, opts ...middleware.Option) *server {
	t.Helper()
	a, err := auth.New(key, opts...)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	s := &server{t: t, reg: reg, closed: make(chan closeEvent, 100)}
	handler := middleware.Handler(s.reg, conntest.Serve(s.serve), upOpts...)
	onClose := middleware.OnClose(func(c *lifecycle.Conn, info lifecycle.CloseInfo) {
		s.closed <- closeEvent{subject: c.Subject(), info: info}
	})
	s.url = wstest.Server(t, onClose(a.Middleware(handler))) + "/ws"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.reg.Shutdown(ctx)
	})
	return s
}

type command struct {
	Type  string `json:"type"`
	Token string `json:"token,omitempty"`
	Error string `json:"error,omitempty"`
	Sub   string `json:"sub,omitempty"`
	// CtxSub is the subject seen through the connection's context.
	CtxSub string `json:"ctx_sub,omitempty"`
}

func (s *server) serve(c *lifecycle.Conn) {
	s.handled.Add(1)
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		var cmd command
		if mt == lifecycle.TextMessage && json.Unmarshal(msg, &cmd) == nil && cmd.Type != "" {
			var reply command
			switch cmd.Type {
			case "refresh":
				if err := auth.Refresh(c, cmd.Token); err != nil {
					reply = command{Type: "error", Error: err.Error()}
				} else {
					reply = command{Type: "refreshed"}
				}
			case "claims":
				sub, _ := auth.ClaimsOf(c).GetSubject()
				ctxSub, _ := auth.ClaimsFromContext(c.Context()).GetSubject()
				reply = command{Type: "claims", Sub: sub, CtxSub: ctxSub}
			}
			msg, _ = json.Marshal(reply)
		}
		if c.WriteMessage(mt, msg) != nil {
			return
		}
	}
}

// next returns the next connection end, failing after 10 s.
func (s *server) next() closeEvent {
	s.t.Helper()
	select {
	case ev := <-s.closed:
		return ev
	case <-time.After(10 * time.Second):
		s.t.Fatal("no connection ended within 10s")
	}
	return closeEvent{}
}

// dial opens a raw client with header; it fails the test unless upgraded.
func (s *server) dial(header http.Header, query string) *wstest.RawClient {
	s.t.Helper()
	u := s.url
	if query != "" {
		u += "?" + query
	}
	c, err := wstest.DialRaw(u, header)
	if err != nil {
		status := 0
		if c != nil {
			status = c.Response.StatusCode
		}
		s.t.Fatalf("dial: %v (status %d)", err, status)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

// refused dials with header and query and fails the test unless the
// upgrade is refused with 401; it returns the WWW-Authenticate value.
func (s *server) refused(header http.Header, query string) string {
	s.t.Helper()
	u := s.url
	if query != "" {
		u += "?" + query
	}
	c, err := wstest.DialRaw(u, header)
	if err == nil {
		c.Close()
		s.t.Fatal("upgraded, want 401")
	}
	if c == nil || c.Response.StatusCode != http.StatusUnauthorized {
		s.t.Fatalf("dial: %v, want 401", err)
	}
	return c.Response.Header.Get("WWW-Authenticate")
}

// invalidToken is the challenge of a token refused for desc.
func invalidToken(desc string) string {
	return `Bearer error="invalid_token", error_description="` + desc + `"`
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// roundTrip sends a JSON command and returns the decoded reply.
func roundTrip(t *testing.T, c *wstest.RawClient, cmd command) command {
	t.Helper()
	b, _ := json.Marshal(cmd)
	if err := c.WriteText(string(b)); err != nil {
		t.Fatalf("write: %v", err)
	}
	f, err := c.ReadFrame(5 * time.Second)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	if f.Op != wstest.OpText {
		t.Fatalf("reply: opcode %d %q, want text", f.Op, f.Payload)
	}
	var reply command
	if err := json.Unmarshal(f.Payload, &reply); err != nil {
		t.Fatalf("reply %q: %v", f.Payload, err)
	}
	return reply
}

// echoes checks that the connection is open: a text message comes back.
func echoes(t *testing.T, c *wstest.RawClient) {
	t.Helper()
	if err := c.WriteText("ping?"); err != nil {
		t.Fatalf("write: %v", err)
	}
	f, err := c.ReadFrame(5 * time.Second)
	if err != nil || f.Op != wstest.OpText || string(f.Payload) != "ping?" {
		t.Fatalf("echo: %v op=%d %q", err, f.Op, f.Payload)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func middlewareHandler(reg *lifecycle.Registry, fn func(*lifecycle.Conn)) http.Handler {
	return middleware.Handler(reg, conntest.Serve(fn))
}
