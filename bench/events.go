package bench

import (
	"github.com/wsmw/wsmw"
)

func init() {
	register(WSMWEvents, newWSMWEvents)
	register(WSMWFullEvents, newWSMWFullEvents)
}

// newWSMWEvents is [wsmw.EventHandler] with no policies (plus a Heartbeat
// when [Options.Ping] is set).
func newWSMWEvents(s *Server, o Options) error {
	reg := wsmw.NewRegistry()
	return s.serveBare(reg, wsmw.EventHandler(reg, echoEvents(o)), o)
}

// newWSMWFullEvents is [wsmw.EventHandler] behind [FullStack].
func newWSMWFullEvents(s *Server, o Options) error {
	reg := wsmw.NewRegistry()
	s.Handler = chain(s.counted(wsmw.EventHandler(reg, echoEvents(o))), FullStack(o)...)
	s.Shutdown = reg.Shutdown
	return nil
}

// echoEvents is the event rows' message function.
func echoEvents(o Options) func(*wsmw.Conn, wsmw.MessageType, []byte) {
	return func(c *wsmw.Conn, mt wsmw.MessageType, msg []byte) {
		if o.blocks(msg) {
			<-blockForever
		}
		c.WriteMessage(mt, msg)
	}
}
