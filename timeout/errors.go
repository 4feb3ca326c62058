package timeout

import (
	"github.com/wsmw/wsmw/lifecycle"
)

// Causes reported in CloseInfo.Cause by this package's policies.
var (
	// ErrSessionExpired: SessionExpiry's maximum lifetime was reached
	// (1008 "session expired").
	ErrSessionExpired = lifecycle.NewCause("session_expired", "session expired")
	// ErrIdleTimeout: no inbound data message within IdleTimeout's
	// duration (1001 "idle timeout").
	ErrIdleTimeout = lifecycle.NewCause("idle_timeout", "idle timeout")
	// ErrPongTimeout: Heartbeat's ping got no pong, nor any other frame,
	// within its timeout (best-effort 1011 "keepalive ping timeout",
	// reported as 1006 abnormal).
	ErrPongTimeout = lifecycle.NewCause("ping_timeout", "keepalive ping timeout")
	// ErrInitTimeout: the first data message did not arrive within
	// InitTimeout's duration (4408 "connection initialisation timeout").
	ErrInitTimeout = lifecycle.NewCause("init_timeout", "connection initialisation timeout")
	// ErrSlowConsumer: a SendQueue overflowed its bounds (1008 "slow
	// consumer"); Send also returns it for a dropped message.
	ErrSlowConsumer = lifecycle.NewCause("slow_consumer", "slow consumer")
	// ErrWriteTimeout is lifecycle.ErrWriteTimeout: a write did not finish
	// within WriteTimeout's bound, so TCP was closed.
	ErrWriteTimeout = lifecycle.ErrWriteTimeout
)

// Default close codes and reasons (DESIGN.md's table).
const (
	// StatusInitTimeout is graphql-transport-ws's code for a connection
	// that did not initialise in time.
	StatusInitTimeout lifecycle.StatusCode = 4408

	ReasonSessionExpired = "session expired"                   // with 1008
	ReasonIdleTimeout    = "idle timeout"                      // with 1001
	ReasonPongTimeout    = "keepalive ping timeout"            // with 1011, best effort
	ReasonInitTimeout    = "connection initialisation timeout" // with 4408
	ReasonSlowConsumer   = "slow consumer"                     // with 1008
)
