package wsmw

import (
	"net/http"
	"time"

	"github.com/wsmw/wsmw/timeout"
)

// TimeoutOption configures a timeout policy: timeout.WithCode,
// timeout.WithReason, timeout.CountOutbound, timeout.OnRTT, and for send
// queues timeout.MaxMessages, timeout.MaxBytes, timeout.OnOverflow.
type TimeoutOption = timeout.Option

// Causes reported by the timeout policies (see also ErrWriteTimeout).
var (
	ErrSessionExpired = timeout.ErrSessionExpired
	ErrIdleTimeout    = timeout.ErrIdleTimeout
	ErrPongTimeout    = timeout.ErrPongTimeout
	ErrInitTimeout    = timeout.ErrInitTimeout
	ErrSlowConsumer   = timeout.ErrSlowConsumer
)

// SessionExpiry closes every connection d after its upgrade with 1008
// "session expired".
func SessionExpiry(d time.Duration, opts ...TimeoutOption) func(http.Handler) http.Handler {
	return timeout.SessionExpiry(d, opts...)
}

// IdleTimeout closes a connection that received no data message for d with
// 1001 "idle timeout"; pings and pongs do not count.
func IdleTimeout(d time.Duration, opts ...TimeoutOption) func(http.Handler) http.Handler {
	return timeout.IdleTimeout(d, opts...)
}

// Heartbeat pings every interval and ends a peer that answers nothing
// within pongTimeout (best-effort 1011 "keepalive ping timeout", reported
// 1006 abnormal with cause ErrPongTimeout). Pongs are processed only while
// the handler reads.
func Heartbeat(interval, pongTimeout time.Duration, opts ...TimeoutOption) func(http.Handler) http.Handler {
	return timeout.Heartbeat(interval, pongTimeout, opts...)
}

// InitTimeout closes a connection whose first data message does not arrive
// within d with 4408 "connection initialisation timeout".
func InitTimeout(d time.Duration, opts ...TimeoutOption) func(http.Handler) http.Handler {
	return timeout.InitTimeout(d, opts...)
}

// WriteTimeout bounds every data write; a timed-out write ends the
// connection with cause ErrWriteTimeout.
func WriteTimeout(d time.Duration) func(http.Handler) http.Handler {
	return timeout.WriteTimeout(d)
}

// SlowConsumer gives each connection a bounded SendQueue for Send and
// Broadcast; overflow closes with 1008 "slow consumer" unless told to drop.
func SlowConsumer(opts ...TimeoutOption) func(http.Handler) http.Handler {
	return timeout.SlowConsumer(opts...)
}

// Send queues a message on c's SendQueue without waiting for the peer.
func Send(c *Conn, mt MessageType, data []byte) error { return timeout.Send(c, mt, data) }

// Broadcast queues a message to every live connection of reg without
// waiting on any peer, and returns how many accepted it.
func Broadcast(reg *Registry, mt MessageType, data []byte) int {
	return timeout.Broadcast(reg, mt, data)
}

// RTT returns c's last heartbeat round-trip time, zero before the first
// pong.
func RTT(c *Conn) time.Duration { return timeout.RTT(c) }

// DiscardMessages reads and discards messages until c ends: the read loop
// of a handler that only writes, so that pongs and Close are processed.
func DiscardMessages(c *Conn) error { return timeout.DiscardMessages(c) }
