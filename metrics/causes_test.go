package metrics_test

import (
	"fmt"
	"testing"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/metrics"
	"github.com/wsmw/wsmw/ratelimit"
	"github.com/wsmw/wsmw/timeout"
)

func TestCauseName(t *testing.T) {
	for cause, want := range map[error]string{
		lifecycle.ErrPeerClosed:                           "peer_closed",
		lifecycle.ErrSessionRevoked:                       "revoked",
		lifecycle.ErrServerShutdown:                       "shutdown",
		timeout.ErrPongTimeout:                            "ping_timeout",
		timeout.ErrSessionExpired:                         "session_expired",
		auth.ErrTokenExpired:                              "token_expired",
		ratelimit.ErrRateLimited:                          "rate_limited",
		&auth.TokenError{Description: "x"}:                "token_invalid",
		fmt.Errorf("%w: boom", lifecycle.ErrHandlerPanic): "handler_panic",
		fmt.Errorf("wrapped twice: %w", fmt.Errorf("%w: reset", lifecycle.ErrConnectionLost)): "connection_lost",
	} {
		if got := metrics.CauseName(cause); got != want {
			t.Errorf("CauseName(%v) = %q, want %q", cause, got, want)
		}
	}
}
