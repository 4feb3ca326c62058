// Package wsmw is the one import for WebSocket lifecycle middleware on
// net/http, gorilla/websocket and chi: JWT auth bound to token expiry,
// session expiry, idle timeout, heartbeat, rate and size limits, graceful
// shutdown and revocation, each one composable middleware, all feeding one
// close arbiter per connection so that a connection ends exactly once, with
// one RFC 6455 close code and reason on the wire, and every OnClose hook
// learns the true cause.
//
//	reg := wsmw.NewRegistry()
//	r := chi.NewRouter()
//	r.Use(wsmw.OnClose(func(c *wsmw.Conn, info wsmw.CloseInfo) {
//		slog.Info("ws closed", "code", int(info.Code), "initiator", info.Initiator.String())
//	}))
//	r.Get("/ws", wsmw.Handler(reg, func(c *wsmw.Conn) {
//		for {
//			mt, msg, err := c.ReadMessage()
//			if err != nil {
//				return // the arbiter already knows why
//			}
//			c.WriteMessage(mt, msg)
//		}
//	}))
//
// The sub-packages hold the parts: lifecycle (Conn, the arbiter, Registry),
// middleware (the net/http glue), auth, timeout and ratelimit (the
// policies).
package wsmw

import (
	"net/http"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// Core types, re-exported from lifecycle and middleware.
type (
	// Conn is a WebSocket connection with a managed lifecycle.
	Conn = lifecycle.Conn
	// CloseInfo describes how a connection ended.
	CloseInfo = lifecycle.CloseInfo
	// CloseError is the error of reads and writes after closing started.
	CloseError = lifecycle.CloseError
	// CloseFrame is a Close frame as written or read.
	CloseFrame = lifecycle.CloseFrame
	// StatusCode is a WebSocket close code.
	StatusCode = lifecycle.StatusCode
	// Initiator tells who ended a connection.
	Initiator = lifecycle.Initiator
	// MessageType is TextMessage or BinaryMessage.
	MessageType = lifecycle.MessageType
	// Registry is the set of live connections with graceful shutdown.
	Registry = lifecycle.Registry
	// Upgrader upgrades requests into Conns.
	Upgrader = middleware.Upgrader
	// Option configures an Upgrader or Handler.
	Option = middleware.Option
	// Attachment runs on a new connection before its handler.
	Attachment = middleware.Attachment
)

// Message types.
const (
	TextMessage   = lifecycle.TextMessage
	BinaryMessage = lifecycle.BinaryMessage
)

// Initiators.
const (
	InitiatorLocal    = lifecycle.InitiatorLocal
	InitiatorPeer     = lifecycle.InitiatorPeer
	InitiatorAbnormal = lifecycle.InitiatorAbnormal
)

// Close codes.
const (
	StatusNormalClosure           = lifecycle.StatusNormalClosure
	StatusGoingAway               = lifecycle.StatusGoingAway
	StatusProtocolError           = lifecycle.StatusProtocolError
	StatusUnsupportedData         = lifecycle.StatusUnsupportedData
	StatusNoStatusRcvd            = lifecycle.StatusNoStatusRcvd
	StatusAbnormalClosure         = lifecycle.StatusAbnormalClosure
	StatusInvalidFramePayloadData = lifecycle.StatusInvalidFramePayloadData
	StatusPolicyViolation         = lifecycle.StatusPolicyViolation
	StatusMessageTooBig           = lifecycle.StatusMessageTooBig
	StatusInternalError           = lifecycle.StatusInternalError
	StatusServiceRestart          = lifecycle.StatusServiceRestart
	StatusTryAgainLater           = lifecycle.StatusTryAgainLater
)

// Causes reported by the core.
var (
	ErrPeerClosed       = lifecycle.ErrPeerClosed
	ErrConnectionLost   = lifecycle.ErrConnectionLost
	ErrProtocol         = lifecycle.ErrProtocol
	ErrMessageTooBig    = lifecycle.ErrMessageTooBig
	ErrApplicationClose = lifecycle.ErrApplicationClose
	ErrHandlerReturned  = lifecycle.ErrHandlerReturned
	ErrHandlerPanic     = lifecycle.ErrHandlerPanic
	ErrServerShutdown   = lifecycle.ErrServerShutdown
	ErrSessionRevoked   = lifecycle.ErrSessionRevoked
	ErrWriteTimeout     = lifecycle.ErrWriteTimeout
)

// NewRegistry returns an empty Registry.
func NewRegistry(opts ...lifecycle.RegistryOption) *Registry { return lifecycle.NewRegistry(opts...) }

// Handler upgrades each request, runs the policies' attachments, then runs
// fn on the connection in a fresh goroutine; 1000 when fn returns, 1011 when
// it panics.
func Handler(reg *Registry, fn func(*Conn), opts ...Option) http.Handler {
	return middleware.Handler(reg, fn, opts...)
}

// NewUpgrader returns an Upgrader for callers that manage the goroutine
// themselves.
func NewUpgrader(reg *Registry, opts ...Option) *Upgrader {
	return middleware.NewUpgrader(reg, opts...)
}

// OnOpen runs fn on each new connection right before its handler.
func OnOpen(fn func(*Conn)) func(http.Handler) http.Handler { return middleware.OnOpen(fn) }

// OnClose adds fn as an OnClose hook to each connection.
func OnClose(fn func(*Conn, CloseInfo)) func(http.Handler) http.Handler {
	return middleware.OnClose(fn)
}

// Upgrader options, re-exported from middleware.
var (
	WithOrigins          = middleware.WithOrigins
	WithAnyOrigin        = middleware.WithAnyOrigin
	WithSubprotocols     = middleware.WithSubprotocols
	WithCompression      = middleware.WithCompression
	WithBufferSizes      = middleware.WithBufferSizes
	WithWriteBufferPool  = middleware.WithWriteBufferPool
	WithHandshakeTimeout = middleware.WithHandshakeTimeout
	WithCloseTimeout     = middleware.WithCloseTimeout
	WithReadLimit        = middleware.WithReadLimit
	WithLogger           = middleware.WithLogger
)
