package ratelimit

import (
	"github.com/wsmw/wsmw/lifecycle"
)

// Causes reported by the policies, usable with errors.Is on a connection's
// CloseInfo.Cause or on the cause given to a [WithOnReject] hook.
var (
	// ErrRateLimited: a connection sent messages faster than [MessageRate]
	// allows (closed with 1008 "rate limit exceeded" by default).
	ErrRateLimited = lifecycle.NewCause("rate_limited", "message rate limit exceeded")
	// ErrConnectRateLimited: an upgrade was refused by [ConnectRate] (429).
	ErrConnectRateLimited = lifecycle.NewCause("connect_rate_limited", "connect rate limit exceeded")
	// ErrTooManyConnections: an upgrade was refused because its key holds
	// all the slots of [MaxConns] (429).
	ErrTooManyConnections = lifecycle.NewCause("too_many_connections", "too many connections")
	// ErrServerFull: an upgrade was refused because [MaxTotalConns] is
	// reached (503).
	ErrServerFull = lifecycle.NewCause("server_full", "server connection limit reached")
	// ErrStoreUnavailable wraps a Store failure: with [WithFailClosed] the
	// upgrade is refused with 503 and this cause.
	ErrStoreUnavailable = lifecycle.NewCause("store_unavailable", "rate limit store unavailable")
	// ErrInvalidUTF8: a text message was not valid UTF-8 (1007).
	ErrInvalidUTF8 = lifecycle.NewCause("invalid_utf8", "invalid utf-8 in text message")
	// ErrNoSubject: a policy keyed by subject ([KeyBySubject]) got a request
	// without one (403).
	ErrNoSubject = lifecycle.NewCause("no_subject", "no subject to count the request against")
	// ErrSubjectChange: a connection that [MaxConns] counts under the subject
	// it was given in band was given another one (Conn.SetSubject refused
	// it); a connection never changes hands.
	ErrSubjectChange = lifecycle.NewCause("subject_change", "a connection counted by subject cannot change subject")
)
