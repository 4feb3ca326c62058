package timeout

import (
	"time"

	"github.com/wsmw/wsmw/lifecycle"
)

// Option configures a policy of this package. Options that do not concern
// a policy are ignored by it.
type Option func(*options)

type options struct {
	code          lifecycle.StatusCode
	reason        string
	countOutbound bool
	onRTT         func(*lifecycle.Conn, time.Duration)
	maxMessages   int
	maxBytes      int
	overflow      Overflow
}

// WithCode sets the close code the policy sends instead of its default.
// For Heartbeat it is the code of the best-effort Close frame; the end is
// still reported as 1006 abnormal.
func WithCode(code lifecycle.StatusCode) Option { return func(o *options) { o.code = code } }

// WithReason sets the close reason the policy sends instead of its
// default (cut to 123 bytes).
func WithReason(reason string) Option {
	return func(o *options) { o.reason = reason }
}

// CountOutbound makes IdleTimeout count outbound messages as activity too:
// those written by the connection's SendQueue (Send, Broadcast) and those
// reported with Touch.
func CountOutbound() Option { return func(o *options) { o.countOutbound = true } }

// OnRTT makes Heartbeat call fn with each measured round-trip time (ping
// written to matching pong read), on the reading goroutine; fn must be
// cheap. See also NotifyRTT for a per-connection callback.
func OnRTT(fn func(c *lifecycle.Conn, rtt time.Duration)) Option {
	return func(o *options) { o.onRTT = fn }
}

// newOptions returns the options of one policy; every connection shares
// them.
func newOptions(code lifecycle.StatusCode, reason string, opts []Option) *options {
	o := &options{code: code, reason: reason}
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}
