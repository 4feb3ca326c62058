package timeout

import (
	"github.com/wsmw/wsmw/lifecycle"
)

// Causes reported in CloseInfo.Cause by this package's policies.
var (
	// ErrSessionExpired: [SessionExpiry]'s maximum lifetime was reached
	// (1008 "session expired").
	ErrSessionExpired = lifecycle.NewCause("session_expired", "session expired")
	// ErrIdleTimeout: no inbound data message within [IdleTimeout]'s
	// duration (1001 "idle timeout").
	ErrIdleTimeout = lifecycle.NewCause("idle_timeout", "idle timeout")
	// ErrPongTimeout: Heartbeat's ping got no pong, nor any other frame,
	// within its timeout (best-effort 1011 "keepalive ping timeout",
	// reported as 1006 abnormal).
	ErrPongTimeout = lifecycle.NewCause("ping_timeout", "keepalive ping timeout")
	// ErrInitTimeout: the first data message did not arrive within
	// [InitTimeout]'s duration (4408 "connection initialisation timeout").
	ErrInitTimeout = lifecycle.NewCause("init_timeout", "connection initialisation timeout")
)

// StatusInitTimeout is graphql-transport-ws's code for a connection that
// did not initialise in time, [InitTimeout]'s default.
const StatusInitTimeout lifecycle.StatusCode = 4408

// Default close reasons (the README's table of close codes).
const (
	reasonSessionExpired = "session expired"                   // with 1008
	reasonIdleTimeout    = "idle timeout"                      // with 1001
	reasonPongTimeout    = "keepalive ping timeout"            // with 1011, best effort
	reasonInitTimeout    = "connection initialisation timeout" // with 4408
)
