package bench

import (
	"context"
	"net/http"

	"github.com/olahol/melody"
)

func init() { register(Melody, newMelody) }

// newMelody is melody v1.1.4 with its defaults (1 KiB buffers, a writer
// goroutine and a 256-message queue per session, a ping every 54 s), except
// for the message size limit, raised from 512 bytes so that the 4 KiB echo
// fits. With [Options.Ping] it pings at that interval instead.
func newMelody(s *Server, o Options) error {
	m := melody.New()
	m.Config.MaxMessageSize = 1 << 20
	if o.Ping > 0 {
		m.Config.PingPeriod = o.Ping
		m.Config.PongWait = o.Ping + o.PongTimeout
	}
	m.HandleConnect(func(*melody.Session) { s.opened.Add(1) })
	m.HandleDisconnect(func(*melody.Session) { s.closed.Add(1) })
	m.HandleMessage(func(sess *melody.Session, msg []byte) { sess.Write(msg) })
	m.HandleMessageBinary(func(sess *melody.Session, msg []byte) { sess.WriteBinary(msg) })
	s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.HandleRequest(w, r)
	})
	s.Shutdown = func(context.Context) error {
		return m.CloseWithMsg(melody.FormatCloseMessage(1001, "server shutting down"))
	}
	return nil
}
