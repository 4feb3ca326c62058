package bench

import (
	"context"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

func init() { register(Nbio, newNbio) }

// nbioMaxLoad is the engine's connection cap in its maintainers'
// 1M-connection example.
const nbioMaxLoad = 1_000_000

// nbioReadBufferSize is the engine's read buffer in that example (the
// default is 64 KiB, shared by each poller).
const nbioReadBufferSize = 4 << 10

// newNbio is lesismal/nbio v1.6.8 as its maintainers run it for many
// connections: its non-blocking engine (nbhttp.Engine, IOModNonBlocking,
// one poller per CPU by default) parsing HTTP itself on its own listener,
// ReleaseWebsocketPayload (each message's buffer goes back to the pool when
// OnMessage returns), the 1M-connection example's MaxLoad and read buffer,
// and the keep-alive read deadline cleared after the upgrade, as its
// benchmark servers do. Shutdown is the engine's: it closes every
// connection's TCP without a Close frame.
func newNbio(s *Server, _ Options) error {
	logging.Output = os.Stderr // the child's stdout carries its replies
	logging.SetLevel(logging.LevelError)
	u := websocket.NewUpgrader()
	u.OnOpen(func(*websocket.Conn) { s.opened.Add(1) })
	u.OnClose(func(*websocket.Conn, error) { s.closed.Add(1) })
	u.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, data []byte) {
		c.WriteMessage(mt, data)
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c.SetReadDeadline(time.Time{})
	})
	var engine *nbhttp.Engine
	s.Serve = func(ln net.Listener) error {
		engine = nbhttp.NewEngine(nbhttp.Config{
			Network:                 "tcp",
			Addrs:                   []string{ln.Addr().String()},
			Listen:                  func(string, string) (net.Listener, error) { return ln, nil },
			Handler:                 mux,
			IOMod:                   nbhttp.IOModNonBlocking,
			MaxLoad:                 nbioMaxLoad,
			ReadBufferSize:          nbioReadBufferSize,
			ReleaseWebsocketPayload: true,
		})
		return engine.Start()
	}
	s.Shutdown = func(ctx context.Context) error { return engine.Shutdown(ctx) }
	return nil
}
