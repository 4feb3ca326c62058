package metrics

import (
	"net/http"
	"strconv"

	"github.com/wsmw/wsmw/internal/observe"
	"github.com/wsmw/wsmw/internal/policy"
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
// (connx.OutboundMessages, internal) when Prometheus scrapes.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !policy.IsUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		rw := &observe.StatusWriter{ResponseWriter: w}
		r = policy.Attach(r, m.attachFn)
		r = middleware.AddCloseHook(r, m.closedFn)
		next.ServeHTTP(rw, r)
		if middleware.UpgradedConn(r) != nil {
			return
		}
		if status, ok := rw.Refusal(); ok { // not when the handshake failed after the hijack
			m.rejections.WithLabelValues(strconv.Itoa(status)).Inc()
		}
	})
}

// attach runs on each new connection, before every other policy's
// attachment.
func (m *Metrics) attach(c *lifecycle.Conn) error {
	m.opened()
	c.AddReadCheck(m.countInFn)
	m.out.add(c)
	m.observePings(c)
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

// closed runs once for every connection that got a 101. One that ended
// before the attachments reached this policy's (the Registry refused it
// while draining) was never counted as opened: count it now.
func (m *Metrics) closed(c *lifecycle.Conn, info lifecycle.CloseInfo) {
	if m.out.ended(c) {
		m.active.Dec()
	} else {
		m.total.Inc()
	}
	m.closes.WithLabelValues(observe.CodeLabel(info, m.cfg.peerCodes), info.Initiator.String(), observe.CauseName(m.cfg.causes, info.Cause)).Inc()
	m.sessions.Observe(info.Duration.Seconds())
}
