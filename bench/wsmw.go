package bench

import (
	"net/http"

	"github.com/wsmw/wsmw"
)

func init() { register(WSMW, newWSMW) }

// newWSMW is wsmw.Handler with no policies (plus a Heartbeat when
// Options.Ping is set; see heartbeat.go).
func newWSMW(s *Server, o Options) error {
	reg := wsmw.NewRegistry()
	var h http.Handler = wsmw.Handler(reg, s.echoWSMW)
	if o.Ping > 0 {
		var err error
		if h, err = withHeartbeat(h, o); err != nil {
			return err
		}
	}
	s.Handler = h
	s.Shutdown = reg.Shutdown
	return nil
}

// echoWSMW is the wsmw rows' handler.
func (s *Server) echoWSMW(c *wsmw.Conn, _ *http.Request) {
	s.opened.Add(1)
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			break
		}
		if c.WriteMessage(mt, msg) != nil {
			break
		}
	}
	// A read error is returned once the connection has ended.
	if info, ok := c.CloseInfo(); ok && info.HandshakeComplete && info.Code == wsmw.StatusGoingAway {
		s.clean.Add(1)
	}
	s.closed.Add(1)
}
