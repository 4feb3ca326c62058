package lifecycle

import (
	"github.com/wsmw/wsmw/internal/connlink"
)

// The functions this package lends its siblings through internal/connlink
// (typed by internal/connx): what policies, middleware and this
// repository's modules need of a Conn or a Registry, and applications do
// not.
func init() {
	connlink.Accept = accept
	connlink.CloseAsync = (*Conn).closeAsync
	connlink.Abort = (*Conn).abort
	connlink.ServeEvents = (*Conn).serveEvents
	connlink.SetReadLimit = (*Conn).setReadLimit
	connlink.ReadLimit = (*Conn).readLimitOf
	connlink.SetFrameLimits = (*Conn).setFrameLimits
	connlink.SetWriteTimeout = (*Conn).setWriteTimeout
	connlink.AddSubjectCheck = func(c *Conn, check func(*Conn, string) (func(), error)) { c.addSubjectCheck(check) }
	connlink.OnPong = (*Conn).addPongHook
	connlink.InboundFrames = (*Conn).inboundFrames
	connlink.OutboundMessages = (*Conn).outboundMessages
	connlink.OutboundBytes = (*Conn).outboundBytesSent
	connlink.OpenedAt = (*Conn).openedTime
	connlink.RegistryOf = (*Conn).registry
	connlink.Draining = (*Registry).isDraining
	connlink.RevocationTTL = (*Registry).revocationTTL
	connlink.RevokeAt = (*Registry).revokeAt
	connlink.SubjectConns = (*Registry).subjectConns
	connlink.CloseParallelism = withCloseParallelism
	connlink.TruncateReason = truncateReason
	connlink.ConnOf = connOf
	connlink.SwapValue = (*Conn).swapValue
}
