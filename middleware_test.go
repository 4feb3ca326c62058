package wsmw_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/wsmw/wsmw"
	"github.com/wsmw/wsmw/internal/wstest"
)

// chain is the same policy chain mounted on both routers.
func chain(reg *wsmw.Registry, closed chan<- wsmw.CloseInfo) []func(http.Handler) http.Handler {
	return []func(http.Handler) http.Handler{
		wsmw.OnClose(func(_ *wsmw.Conn, info wsmw.CloseInfo) { closed <- info }),
		wsmw.OnOpen(func(c *wsmw.Conn) { c.LoadOrStore(greetingKey{}, "hi") }),
	}
}

type greetingKey struct{}

func echoHandler(c *wsmw.Conn, _ *http.Request) {
	greeting, _ := c.Value(greetingKey{}).(string)
	c.WriteMessage(wsmw.TextMessage, []byte(greeting))
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		c.WriteMessage(mt, msg)
	}
}

func plainHandler(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain "+r.URL.Path) }

func TestChainOnChi(t *testing.T) {
	reg := wsmw.NewRegistry()
	defer reg.Shutdown(t.Context())
	closed := make(chan wsmw.CloseInfo, 1)
	r := chi.NewRouter()
	r.Use(chain(reg, closed)...)
	r.Get("/ws", wsmw.Handler(reg, echoHandler))
	r.Get("/plain", plainHandler)
	exercise(t, wstest.Server(t, r), closed)
}

func TestChainOnServeMux(t *testing.T) {
	reg := wsmw.NewRegistry()
	defer reg.Shutdown(t.Context())
	closed := make(chan wsmw.CloseInfo, 1)
	wrap := func(h http.Handler) http.Handler {
		mws := chain(reg, closed)
		for i := len(mws) - 1; i >= 0; i-- {
			h = mws[i](h)
		}
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", wrap(wsmw.Handler(reg, echoHandler)))
	mux.Handle("GET /plain", wrap(http.HandlerFunc(plainHandler)))
	exercise(t, wstest.Server(t, mux), closed)
}

func exercise(t *testing.T, url string, closed <-chan wsmw.CloseInfo) {
	t.Helper()
	resp, err := http.Get("http" + strings.TrimPrefix(url, "ws") + "/plain")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "plain /plain" {
		t.Fatalf("plain request through the chain: %d %q", resp.StatusCode, body)
	}
	c, err := wstest.DialRaw(url+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "hi" {
		t.Fatalf("OnOpen value: %q %v", f.Payload, err)
	}
	c.WriteText("echo me")
	if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "echo me" {
		t.Fatalf("echo: %q %v", f.Payload, err)
	}
	c.WriteClose(1000, "done")
	if f, _, err := c.ReadUntilClose(5 * time.Second); err != nil || f.CloseCode() != 1000 {
		t.Fatalf("echoed close: %v", err)
	}
	info := <-closed
	if info.Code != wsmw.StatusNormalClosure || info.Initiator != wsmw.InitiatorPeer || !info.HandshakeComplete {
		t.Fatalf("info %+v", info)
	}
}
