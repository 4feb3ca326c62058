package lifecycle_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

// harness runs handler on every upgraded connection of a test server and
// collects each connection's CloseInfo.
type harness struct {
	t      *testing.T
	url    string
	reg    *lifecycle.Registry
	closed chan lifecycle.CloseInfo
	mu     sync.Mutex
	hooks  map[*lifecycle.Conn]int
	cfg    lifecycle.Config
}

func newHarness(t *testing.T, cfg lifecycle.Config, handler func(*lifecycle.Conn), opts ...lifecycle.RegistryOption) *harness {
	h := &harness{t: t, reg: lifecycle.NewRegistry(opts...), closed: make(chan lifecycle.CloseInfo, 10000), hooks: map[*lifecycle.Conn]int{}, cfg: cfg}
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}
	h.url = wstest.Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg := h.cfg
		cfg.Registry = h.reg
		cfg.OnClose = []func(*lifecycle.Conn, lifecycle.CloseInfo){func(c *lifecycle.Conn, info lifecycle.CloseInfo) {
			h.mu.Lock()
			h.hooks[c]++
			h.mu.Unlock()
			h.closed <- info
		}}
		c, err := lifecycle.Accept(w, r, &up, nil, cfg)
		if err != nil {
			return
		}
		go func() {
			handler(c)
			c.CloseWith(lifecycle.ErrHandlerReturned, lifecycle.StatusNormalClosure, "")
		}()
	}))
	t.Cleanup(func() {
		h.reg.Shutdown(t.Context())
	})
	return h
}

func (h *harness) dial() *wstest.RawClient {
	h.t.Helper()
	c, err := wstest.DialRaw(h.url, nil)
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

func (h *harness) next() lifecycle.CloseInfo {
	h.t.Helper()
	select {
	case info := <-h.closed:
		return info
	case <-time.After(10 * time.Second):
		h.t.Fatal("no OnClose within 10s")
	}
	return lifecycle.CloseInfo{}
}

// afterFunc starts a timer of its own on c, as a policy would.
func afterFunc(c *lifecycle.Conn, d time.Duration, f func()) *lifecycle.Timer {
	t := new(lifecycle.Timer)
	c.StartTimer(t, d, f)
	return t
}
