package bench

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

func init() {
	register(Gorilla, newGorilla)
	register(Tuned, newTuned)
}

// newGorilla is what most hand-written gorilla servers look like: default
// buffers (net/http's own 4 KiB bufio pair), and the connection served in
// the net/http handler's goroutine.
func newGorilla(s *Server, _ Options) error {
	up := websocket.Upgrader{}
	s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.opened.Add(1)
		echoGorilla(ws)
		ws.Close()
		s.closed.Add(1)
	})
	return nil
}

// newTuned is the floor: a careful hand-written gorilla server. It returns
// from net/http's handler right after the upgrade (net/http keeps the
// request's buffers for as long as its handler runs), reads in a fresh
// goroutine, uses a 1 KiB read buffer and pooled write buffers. With
// [Options.Ping] it adds the usual hand-written keepalive: a timer that
// pings, and a read deadline that each pong extends.
func newTuned(s *Server, o Options) error {
	up := websocket.Upgrader{
		ReadBufferSize:  1024,
		WriteBufferSize: 4096,
		WriteBufferPool: new(sync.Pool),
	}
	s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.opened.Add(1)
		go func() {
			if o.Ping > 0 {
				stop := keepalive(ws, o.Ping, o.PongTimeout)
				defer stop()
			}
			echoGorilla(ws)
			ws.Close()
			s.closed.Add(1)
		}()
	})
	return nil
}

func echoGorilla(ws *websocket.Conn) {
	for {
		mt, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if err := ws.WriteMessage(mt, msg); err != nil {
			return
		}
	}
}

// keepalive pings ws every interval from a timer (no goroutine of its
// own) and lets each pong push the read deadline out; the reader fails
// when a pong is late. It returns a function that stops the pings.
func keepalive(ws *websocket.Conn, interval, timeout time.Duration) (stop func()) {
	ws.SetReadDeadline(time.Now().Add(interval + timeout))
	ws.SetPongHandler(func(string) error {
		return ws.SetReadDeadline(time.Now().Add(interval + timeout))
	})
	var (
		stopped atomic.Bool
		t       atomic.Pointer[time.Timer]
	)
	tm := time.AfterFunc(time.Hour, func() {
		if stopped.Load() {
			return
		}
		if err := ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(timeout)); err != nil {
			return
		}
		t.Load().Reset(interval)
	})
	tm.Stop()
	t.Store(tm) // before the first call can run
	tm.Reset(interval)
	return func() {
		stopped.Store(true)
		t.Load().Stop()
	}
}
