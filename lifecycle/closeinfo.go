package lifecycle

import (
	"errors"
	"time"
)

// Initiator tells which side ended a connection.
type Initiator uint8

const (
	// InitiatorLocal: this server (the application or a policy) sent the
	// first Close frame, or gorilla/websocket sent one on its own for a
	// protocol error.
	InitiatorLocal Initiator = iota + 1
	// InitiatorPeer: the peer sent the first Close frame.
	InitiatorPeer
	// InitiatorAbnormal: the transport ended without a completed exchange of
	// Close frames started by either side (EOF, reset, a dead peer).
	InitiatorAbnormal
)

// String returns "local", "peer" or "abnormal".
func (i Initiator) String() string {
	switch i {
	case InitiatorLocal:
		return "local"
	case InitiatorPeer:
		return "peer"
	case InitiatorAbnormal:
		return "abnormal"
	}
	return "unknown"
}

// CloseFrame is a Close frame as it was written or read. Code is
// [StatusNoStatusRcvd] when the frame carried no status.
type CloseFrame struct {
	Code   StatusCode
	Reason string
}

// CloseInfo describes how a connection ended. OnClose hooks receive it, and
// [Conn.Wait] returns it.
type CloseInfo struct {
	// Code is the code that describes the end: the one sent for a local
	// close, the one received for a peer close, 1006 for an abnormal end.
	Code StatusCode
	// Reason goes with Code.
	Reason string
	// Initiator tells who ended the connection.
	Initiator Initiator
	// Cause is why: a sentinel such as ErrPeerClosed or a policy's own (for
	// example timeout.ErrSessionExpired), usable with errors.Is.
	Cause error
	// Sent is the Close frame this side wrote, nil if none was written.
	Sent *CloseFrame
	// Received is the Close frame the peer wrote, nil if none was read.
	Received *CloseFrame
	// HandshakeComplete reports that Close frames went both ways.
	HandshakeComplete bool
	// Duration is the time from the upgrade until TCP was closed.
	Duration time.Duration
}

// Err returns the end as a [*CloseError].
func (i CloseInfo) Err() error {
	return &CloseError{Code: i.Code, Reason: i.Reason, Initiator: i.Initiator, Cause: i.Cause}
}

// CloseError is returned by reads and writes once closing has started, and
// is the value of context.Cause on a Conn's context. Use errors.As to read
// the code and errors.Is to match the cause:
//
//	var ce *lifecycle.CloseError
//	if errors.As(err, &ce) && ce.Code == lifecycle.StatusPolicyViolation { … }
//	if errors.Is(err, timeout.ErrSessionExpired) { … }
//
// Policies may also return a [*CloseError] from a read check to choose the code
// and reason of the close.
type CloseError struct {
	Code      StatusCode
	Reason    string
	Initiator Initiator
	Cause     error
}

// Error describes the close, for example
// "websocket closed (local): 1008 policy violation: session expired".
func (e *CloseError) Error() string {
	s := "websocket closed"
	if e.Initiator != 0 {
		s += " (" + e.Initiator.String() + ")"
	}
	s += ": " + e.Code.String()
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Unwrap returns the cause.
func (e *CloseError) Unwrap() error { return e.Cause }

// Causes that the lifecycle itself reports in [CloseInfo.Cause].
var (
	// ErrPeerClosed: the peer sent the first Close frame.
	ErrPeerClosed = NewCause("peer_closed", "peer closed the connection")
	// ErrConnectionLost: the transport ended without a Close frame. The
	// network error is wrapped with it.
	ErrConnectionLost = NewCause("connection_lost", "connection lost")
	// ErrProtocol: gorilla/websocket found a protocol violation and sent 1002.
	ErrProtocol = NewCause("protocol_error", "protocol error")
	// ErrMessageTooBig: a message exceeded the read limit (1009).
	ErrMessageTooBig = NewCause("message_too_big", "message too big")
	// ErrApplicationClose: the application called Close without a cause.
	ErrApplicationClose = NewCause("application", "closed by the application")
	// ErrHandlerReturned: the connection's handler returned (1000).
	ErrHandlerReturned = NewCause("handler_returned", "handler returned")
	// ErrHandlerPanic: the connection's handler panicked (1011). The panic
	// value is wrapped with it.
	ErrHandlerPanic = NewCause("handler_panic", "handler panicked")
	// ErrServerShutdown: [Registry.Shutdown] or [Registry.Restart] closed it.
	ErrServerShutdown = NewCause("shutdown", "server shutting down")
	// ErrSessionRevoked: [Registry.Revoke] closed the subject's connections.
	ErrSessionRevoked = NewCause("revoked", "session revoked")
	// ErrWriteTimeout: a write did not finish within the write timeout; the
	// stream was broken, so TCP was closed without a Close frame.
	ErrWriteTimeout = NewCause("write_timeout", "write timeout")
	// ErrDropMessage may be returned by a read check to skip a message
	// without closing the connection.
	ErrDropMessage = errors.New("drop message")
)

// lostConnection wraps the transport error that ended a connection. Its
// text is made only if asked for: most are never printed.
func lostConnection(err error) error { return connectionLost{err} }

type connectionLost struct{ err error }

func (e connectionLost) Error() string   { return ErrConnectionLost.Error() + ": " + e.err.Error() }
func (e connectionLost) Unwrap() []error { return []error{ErrConnectionLost, e.err} }
