package bench

import (
	"net/http"

	"github.com/wsmw/wsmw"
)

func init() { register(WSMW, newWSMW) }

// newWSMW is wsmw.Handler with no policies (plus a Heartbeat when
// [Options.Ping] is set; see heartbeat.go).
func newWSMW(s *Server, o Options) error {
	reg := wsmw.NewRegistry()
	return s.serveBare(reg, wsmw.Handler(reg, echoWSMW(o)), o)
}

// serveBare serves h, whose connections join reg, counted, with a
// Heartbeat in front when [Options.Ping] is set: the bare wsmw rows.
func (s *Server) serveBare(reg *wsmw.Registry, h http.Handler, o Options) error {
	h = s.counted(h)
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
func echoWSMW(o Options) func(*wsmw.Conn, *http.Request) {
	return func(c *wsmw.Conn, _ *http.Request) {
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if o.blocks(msg) {
				<-blockForever
			}
			if c.WriteMessage(mt, msg) != nil {
				return
			}
		}
	}
}

// counted counts the wsmw rows' connections with hooks: OnClose hooks
// have all run when the Registry's Shutdown returns, which a handler's
// last lines may not have.
func (s *Server) counted(h http.Handler) http.Handler {
	return chain(h,
		wsmw.OnOpen(func(*wsmw.Conn) { s.opened.Add(1) }),
		wsmw.OnClose(func(_ *wsmw.Conn, info wsmw.CloseInfo) {
			if info.HandshakeComplete && info.Code == wsmw.StatusGoingAway {
				s.clean.Add(1)
			}
			s.closed.Add(1)
		}))
}
