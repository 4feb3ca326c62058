package metrics

import (
	"errors"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/ratelimit"
	"github.com/wsmw/wsmw/timeout"
)

// Cause label values besides the names of known causes.
const (
	// CauseNone is the cause label of a close that carried no cause.
	CauseNone = "none"
	// CauseOther is the cause label of a cause that is not known.
	CauseOther = "other"
)

type namedCause struct {
	err  error
	name string
}

// knownCauses maps the sentinel causes of wsmw's packages to short label
// values, in the order they are checked.
var knownCauses = []namedCause{
	{lifecycle.ErrPeerClosed, "peer_closed"},
	{lifecycle.ErrConnectionLost, "connection_lost"},
	{lifecycle.ErrProtocol, "protocol_error"},
	{lifecycle.ErrMessageTooBig, "message_too_big"},
	{lifecycle.ErrApplicationClose, "application"},
	{lifecycle.ErrHandlerReturned, "handler_returned"},
	{lifecycle.ErrHandlerPanic, "handler_panic"},
	{lifecycle.ErrServerShutdown, "shutdown"},
	{lifecycle.ErrSessionRevoked, "revoked"},
	{lifecycle.ErrWriteTimeout, "write_timeout"},
	{middleware.ErrAttachmentPanic, "attachment_panic"},
	{timeout.ErrSessionExpired, "session_expired"},
	{timeout.ErrIdleTimeout, "idle_timeout"},
	{timeout.ErrPongTimeout, "ping_timeout"},
	{timeout.ErrInitTimeout, "init_timeout"},
	{timeout.ErrSlowConsumer, "slow_consumer"},
	{auth.ErrTokenExpired, "token_expired"},
	{auth.ErrTokenInvalid, "token_invalid"},
	{ratelimit.ErrRateLimited, "rate_limited"},
	{ratelimit.ErrInvalidUTF8, "invalid_utf8"},
}

// CauseName returns the cause label value for a close cause: the short name
// of a known sentinel (matched with errors.Is, so wrapped causes count),
// CauseNone for nil and CauseOther for anything else.
func CauseName(cause error) string { return causeName(nil, cause) }

func causeName(extra []namedCause, cause error) string {
	if cause == nil {
		return CauseNone
	}
	for _, list := range [][]namedCause{extra, knownCauses} {
		for _, nc := range list {
			if errors.Is(cause, nc.err) {
				return nc.name
			}
		}
	}
	return CauseOther
}
