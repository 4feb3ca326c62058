package wsmw

import (
	"net/http"
	"time"

	"github.com/wsmw/wsmw/timeout"
)

// SessionExpiry closes every connection d after its upgrade with 1008
// "session expired" (cause [timeout.ErrSessionExpired]; [WithClose]
// changes the close). 30 minutes suits browsers.
func SessionExpiry(d time.Duration, opts ...Option) func(http.Handler) http.Handler {
	return timeout.SessionExpiry(d, opts...)
}

// IdleTimeout closes a connection that received no data message for d with
// 1001 "idle timeout" (cause [timeout.ErrIdleTimeout]); pings and pongs do
// not count ([WithCountOutbound] counts what it sends too). 5 minutes
// suits browsers.
func IdleTimeout(d time.Duration, opts ...Option) func(http.Handler) http.Handler {
	return timeout.IdleTimeout(d, opts...)
}

// WithCountOutbound makes [IdleTimeout] count outbound messages as
// activity.
func WithCountOutbound() Option { return timeout.WithCountOutbound() }

// Heartbeat pings every interval and ends a peer that answers nothing
// within pongTimeout (best-effort 1011 "keepalive ping timeout", reported
// as 1006 abnormal, cause [timeout.ErrPongTimeout]); [lifecycle.Conn.RTT]
// gives the last round trip. Pongs are read only while the handler reads.
// 20 s and 20 s suit most deployments.
func Heartbeat(interval, pongTimeout time.Duration, opts ...Option) func(http.Handler) http.Handler {
	return timeout.Heartbeat(interval, pongTimeout, opts...)
}

// InitTimeout closes a connection whose first data message does not arrive
// within d with 4408 "connection initialisation timeout" (cause
// [timeout.ErrInitTimeout]).
func InitTimeout(d time.Duration, opts ...Option) func(http.Handler) http.Handler {
	return timeout.InitTimeout(d, opts...)
}

// WriteTimeout bounds every write to d; a timed-out write ends the
// connection (cause [lifecycle.ErrWriteTimeout]). 10 s suits most
// deployments.
func WriteTimeout(d time.Duration) func(http.Handler) http.Handler {
	return timeout.WriteTimeout(d)
}
