package lifecycle_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
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
	cfg    connx.Config
}

func newHarness(t *testing.T, cfg connx.Config, handler func(*lifecycle.Conn), opts ...lifecycle.RegistryOption) *harness {
	return startHarness(t, cfg, 1024, func(c *lifecycle.Conn) {
		go func() {
			handler(c)
			c.CloseWith(lifecycle.ErrHandlerReturned, lifecycle.StatusNormalClosure, "")
		}()
	}, opts...)
}

// newModeHarness is newHarness in a read mode: open (when not nil) runs
// on each connection first, then onMessage gets each data message, from a
// ReadMessage loop in a goroutine of the connection's (goroutine mode) or
// from serveEvents (event mode, with its default read buffer, on a Conn
// made for it: config.Events).
func newModeHarness(t *testing.T, mode conntest.Mode, cfg connx.Config, open func(*lifecycle.Conn), onMessage func(*lifecycle.Conn, lifecycle.MessageType, []byte)) *harness {
	if !mode.Events {
		return newHarness(t, cfg, func(c *lifecycle.Conn) {
			if open != nil {
				open(c)
			}
			for {
				mt, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				onMessage(c, mt, data)
			}
		})
	}
	cfg.Events = true // made for event mode: the loop owns its socket
	return startHarness(t, cfg, connx.EventBufferSize, func(c *lifecycle.Conn) {
		if open != nil {
			open(c)
		}
		if !connx.ServeEvents(c, onMessage, false) {
			t.Error("serveEvents fell back to a goroutine")
		}
	})
}

// startHarness starts the test server: serve takes each upgraded
// connection, read through a buffer of readBuffer bytes.
func startHarness(t *testing.T, cfg connx.Config, readBuffer int, serve func(*lifecycle.Conn), opts ...lifecycle.RegistryOption) *harness {
	h := &harness{t: t, reg: lifecycle.NewRegistry(opts...), closed: make(chan lifecycle.CloseInfo, 10000), hooks: map[*lifecycle.Conn]int{}, cfg: cfg}
	up := websocket.Upgrader{ReadBufferSize: readBuffer, WriteBufferSize: 1024}
	h.url = wstest.Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cfg := h.cfg
		cfg.Registry = h.reg
		cfg.OnClose = []func(*lifecycle.Conn, lifecycle.CloseInfo){func(c *lifecycle.Conn, info lifecycle.CloseInfo) {
			h.mu.Lock()
			h.hooks[c]++
			h.mu.Unlock()
			h.closed <- info
		}}
		c, err := connx.Accept(w, r, &up, nil, cfg)
		if err != nil {
			return
		}
		serve(c)
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

// pipeConn upgrades one in-memory connection with cfg and returns the
// server's Conn, which nothing serves, and the client. It works inside a
// synctest bubble, where the connection follows the bubble's fake clock.
func pipeConn(t *testing.T, cfg connx.Config) (*lifecycle.Conn, *websocket.Conn) {
	t.Helper()
	conns := make(chan *lifecycle.Conn, 1)
	up := websocket.Upgrader{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := connx.Accept(w, r, &up, nil, cfg)
		if err != nil {
			return
		}
		conns <- c
	})
	client, _, err := wstest.PipeDial(h, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	return <-conns, client
}

// afterFunc starts a timer of its own on c, as a policy would.
func afterFunc(c *lifecycle.Conn, d time.Duration, f func()) *lifecycle.Timer {
	t := new(lifecycle.Timer)
	c.StartTimer(t, d, f)
	return t
}
