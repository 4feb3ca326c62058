// Package metrics records Prometheus metrics for wsmw's WebSocket
// connections: how many are open and have been opened, how they ended (by
// close code, initiator and cause), which upgrade requests were refused
// before the upgrade (by HTTP status), how long sessions lasted, heartbeat
// round-trip times, and data messages in and out and their bytes in.
//
// One middleware does it all; put it first (outermost) in front of the
// WebSocket route, so that it sees the refusals of every other policy:
//
//	m, err := metrics.New(prometheus.DefaultRegisterer)
//	if err != nil { … }
//	r.With(m.Middleware, auth, limits).Handle("/ws", wsmw.Handler(reg, echo))
//
// The package is a module of its own (github.com/wsmw/wsmw/metrics), so
// that wsmw's core never depends on Prometheus; it uses only the core's
// lifecycle and middleware packages.
//
// Every label has a bounded set of values: no subject, IP or path labels.
// The cause of a close is a short name for a known sentinel error (see
// [CauseName]) and "other" for anything else; close codes that only a peer
// can choose (3000-4999) are folded into "3xxx" and "4xxx" unless allowed
// with [WithPeerCodes].
package metrics
