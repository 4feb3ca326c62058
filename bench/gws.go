package bench

import (
	"net"

	"github.com/lxzan/gws"
)

func init() { register(GWS, newGWS) }

// newGWS is lxzan/gws v1.8.9 with [NewServer]'s defaults (its own HTTP
// parsing on its own listener, a goroutine per connection that reads, 4 KiB
// read buffer), its handler written as its README's: echo each message and
// release it, answer pings. gws has no shutdown of its own.
func newGWS(s *Server, _ Options) error {
	srv := gws.NewServer(&gwsEcho{s: s}, nil)
	s.Serve = func(ln net.Listener) error {
		go srv.RunListener(ln)
		return nil
	}
	return nil
}

// gwsEcho is the gws row's event handler.
type gwsEcho struct {
	gws.BuiltinEventHandler
	s *Server
}

func (h *gwsEcho) OnOpen(*gws.Conn)         { h.s.opened.Add(1) }
func (h *gwsEcho) OnClose(*gws.Conn, error) { h.s.closed.Add(1) }

func (h *gwsEcho) OnPing(c *gws.Conn, payload []byte) { c.WritePong(payload) }

func (h *gwsEcho) OnMessage(c *gws.Conn, m *gws.Message) {
	defer m.Close()
	c.WriteMessage(m.Opcode, m.Bytes())
}
