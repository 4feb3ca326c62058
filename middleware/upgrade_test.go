package middleware_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

func TestPlainRequestsPassThroughPoliciesUntouched(t *testing.T) {
	var seen *http.Request
	plain := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		w.Header().Set("X-Plain", "yes")
		w.WriteHeader(http.StatusTeapot)
	})
	chain := middleware.Policy(func(*lifecycle.Conn) error { t.Error("attachment ran for a plain request"); return nil })(
		middleware.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) {})(
			middleware.OnOpen(func(*lifecycle.Conn) {})(plain)))
	req := httptest.NewRequest(http.MethodGet, "/ws", nil)
	rec := httptest.NewRecorder()
	chain.ServeHTTP(rec, req)
	if seen != req || rec.Code != http.StatusTeapot || rec.Header().Get("X-Plain") != "yes" {
		t.Fatalf("plain request changed: same=%v code=%d", seen == req, rec.Code)
	}
}

func TestHandlerAnswers426ToPlainRequests(t *testing.T) {
	h := middleware.Handler(lifecycle.NewRegistry(), conntest.Serve(drainHandler))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ws", nil))
	if rec.Code != http.StatusUpgradeRequired || rec.Header().Get("Upgrade") != "websocket" {
		t.Fatalf("code %d, Upgrade %q", rec.Code, rec.Header().Get("Upgrade"))
	}
}

func TestUpgradeDuringDrainGets503(t *testing.T) {
	reg := lifecycle.NewRegistry()
	url := wstest.Server(t, middleware.Handler(reg, conntest.Serve(drainHandler)))
	reg.Shutdown(t.Context())
	c, _ := wstest.DialRaw(url, nil)
	if c == nil || c.Response.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %v", c)
	}
}

func TestAttachmentsRunInOrderBeforeOnOpenAndHandler(t *testing.T) {
	var mu sync.Mutex
	var order []string
	mark := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(t.Context())
	r := chi.NewRouter()
	r.Use(middleware.OnOpen(func(*lifecycle.Conn) { mark("open") }))
	r.Use(middleware.Policy(func(*lifecycle.Conn) error { mark("first"); return nil }))
	r.Use(middleware.Policy(func(*lifecycle.Conn) error { mark("second"); return nil }))
	ran := make(chan struct{})
	r.Get("/ws", middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) { mark("handler"); close(ran) }).ServeHTTP)
	url := wstest.Server(t, r)
	c, err := wstest.DialRaw(url+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-ran
	mu.Lock()
	got := strings.Join(order, ",")
	mu.Unlock()
	if got != "first,second,open,handler" {
		t.Fatalf("order %s", got)
	}
	f, _, err := c.ReadUntilClose(5 * time.Second)
	if err != nil || f.CloseCode() != 1000 {
		t.Fatalf("handler return: close %d %v", f.CloseCode(), err)
	}
}

func TestFailingAttachmentClosesWithItsCodeAndSkipsHandler(t *testing.T) {
	errNope := errors.New("nope")
	upgraded := make(chan bool, 1)
	closed := make(chan lifecycle.CloseInfo, 1)
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(t.Context())
	probe := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = policy.Attach(r, func(c *lifecycle.Conn) error {
				c.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { closed <- info })
				return nil
			})
			next.ServeHTTP(w, r)
			upgraded <- (middleware.UpgradedConn(r) != nil)
		})
	}
	deny := middleware.Policy(func(*lifecycle.Conn) error {
		return &lifecycle.CloseError{Code: 4403, Reason: "forbidden", Cause: errNope}
	})
	h := probe(deny(middleware.Handler(reg, func(*lifecycle.Conn, *http.Request) { t.Error("handler ran") })))
	url := wstest.Server(t, h)
	c, err := wstest.DialRaw(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, _, err := c.ReadUntilClose(5 * time.Second)
	if err != nil || f.CloseCode() != 4403 || f.CloseReason() != "forbidden" {
		t.Fatalf("close %d %q %v", f.CloseCode(), f.CloseReason(), err)
	}
	c.WriteClose(4403, "")
	info := <-closed
	if !errors.Is(info.Cause, errNope) || !<-upgraded {
		t.Fatalf("info %+v", info)
	}
}

func TestUpgradedIsFalseWhenTheUpgradeFails(t *testing.T) {
	got := make(chan bool, 1)
	probe := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = policy.Attach(r, func(*lifecycle.Conn) error { return nil })
			next.ServeHTTP(w, r)
			got <- (middleware.UpgradedConn(r) != nil)
		})
	}
	url := wstest.Server(t, probe(middleware.Handler(lifecycle.NewRegistry(), conntest.Serve(drainHandler))))
	// An upgrade request without Sec-WebSocket-Key: gorilla answers 400.
	req, _ := http.NewRequest(http.MethodGet, "http"+strings.TrimPrefix(url, "ws"), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if <-got {
		t.Fatal("Upgraded reported true for a failed upgrade")
	}
}

func TestSubprotocolSelection(t *testing.T) {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(t.Context())
	bearer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, policy.WithFallbackSubprotocol(r, "bearer"))
		})
	}
	url := wstest.Server(t, bearer(middleware.Handler(reg, conntest.Serve(drainHandler), middleware.WithSubprotocols("graphql-transport-ws", "chat"))))
	for _, tc := range []struct{ offer, want string }{
		{"chat, bearer, secret-token", "chat"},
		{"bearer, secret-token", "bearer"},
		{"graphql-transport-ws, chat", "graphql-transport-ws"},
		{"other", ""},
	} {
		c, err := wstest.DialRaw(url, http.Header{"Sec-Websocket-Protocol": {tc.offer}})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Response.Header.Get("Sec-Websocket-Protocol"); got != tc.want {
			t.Fatalf("offer %q: selected %q, want %q", tc.offer, got, tc.want)
		}
		c.WriteClose(1000, "")
		c.WaitEOF(5 * time.Second)
		c.Close()
	}
}

func TestChiURLParamsSurviveTheHTTPHandler(t *testing.T) {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(t.Context())
	got := make(chan string, 2)
	r := chi.NewRouter()
	r.Get("/rooms/{room}", middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		c.ReadMessage() // by now chi has reused its route context
		got <- chi.URLParamFromCtx(c.Context(), "room")
	}).ServeHTTP)
	r.Get("/other/{x}", func(w http.ResponseWriter, r *http.Request) {})
	url := wstest.Server(t, r)
	c, err := wstest.DialRaw(url+"/rooms/lobby", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 20 { // let chi reuse its pooled contexts
		http.Get("http" + strings.TrimPrefix(url, "ws") + "/other/zzz")
	}
	c.WriteText("go")
	if room := <-got; room != "lobby" {
		t.Fatalf("room = %q", room)
	}
}

func TestHandlerPanicClosesWith1011AndIsLogged(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	closed := make(chan lifecycle.CloseInfo, 1)
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(t.Context())
	h := middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { closed <- info })(
		middleware.Handler(reg, func(*lifecycle.Conn, *http.Request) { panic("kaboom") }, middleware.WithLogger(logger)))
	url := wstest.Server(t, h)
	c, err := wstest.DialRaw(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, _, err := c.ReadUntilClose(5 * time.Second)
	if err != nil || f.CloseCode() != 1011 || f.CloseReason() != "internal error" {
		t.Fatalf("close %d %q %v", f.CloseCode(), f.CloseReason(), err)
	}
	c.WriteClose(1011, "")
	info := <-closed
	if !errors.Is(info.Cause, lifecycle.ErrHandlerPanic) || !strings.Contains(info.Cause.Error(), "kaboom") {
		t.Fatalf("cause %v", info.Cause)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "kaboom") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
