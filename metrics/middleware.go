package metrics

import (
	"net/http"
	"strconv"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// Middleware records the metrics of every WebSocket upgrade request that
// passes through it; other requests pass untouched. Put it first (outermost)
// so that it sees every refusal: an upgrade request that ends without an
// upgrade counts in wsmw_rejections_total with the status it was answered
// with (401 from auth, 403 origin, 429 limits, 503 draining, …).
//
// On each new connection it counts the connection, installs a read check
// that counts inbound data messages and bytes (no allocation per message),
// feeds wsmw_ping_rtt_seconds when the heartbeat reports round trips, and
// adds an OnClose hook that records the close, its cause and the session's
// duration. Outbound messages are read from the connections' own counters
// (lifecycle.Conn.OutboundMessages) when Prometheus scrapes.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !middleware.IsUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		rw := &statusWriter{ResponseWriter: w}
		// Attaching first also gives the request the shared state that
		// middleware.Upgraded reads after next returns.
		r = middleware.Attach(r, rw.attachment(m))
		next.ServeHTTP(rw, r)
		if middleware.Upgraded(r) {
			if !rw.attached {
				// Upgraded, then closed before the attachments ran (the
				// Registry started draining in between): count it still.
				m.opened()
				middleware.Conn(r).OnClose(m.closedFn)
			}
			return
		}
		if rw.hijacked {
			return // hijacked, but the handshake failed: nothing was answered
		}
		status := rw.status
		if status == 0 {
			status = http.StatusOK // what net/http sends for an empty answer
		}
		m.rejections.WithLabelValues(strconv.Itoa(status)).Inc()
	})
}

// attach runs on each new connection, before every other policy's
// attachment.
func (m *Metrics) attach(c *lifecycle.Conn) error {
	m.opened()
	c.AddReadCheck(m.countInFn)
	m.out.add(c)
	m.observePings(c)
	c.OnClose(m.closedFn)
	return nil
}

func (m *Metrics) opened() {
	m.total.Inc()
	m.active.Inc()
}

// countIn counts one inbound data message. It never rejects.
func (m *Metrics) countIn(_ lifecycle.MessageType, data []byte) error {
	m.msgsIn.Inc()
	m.bytesIn.Add(float64(len(data)))
	return nil
}

func (m *Metrics) closed(c *lifecycle.Conn, info lifecycle.CloseInfo) {
	m.active.Dec()
	m.out.ended(c)
	m.closes.WithLabelValues(m.codeLabel(info), info.Initiator.String(), causeName(m.cfg.causes, info.Cause)).Inc()
	m.sessions.Observe(info.Duration.Seconds())
}
