// Package wsmw is WebSocket lifecycle middleware for net/http, on
// gorilla/websocket and chi: JWT auth bound to token expiry, session
// expiry, idle timeout, heartbeat, rate and size limits, graceful shutdown
// and revocation, each one composable middleware, all feeding one close
// arbiter per connection so that a connection ends exactly once, with one
// RFC 6455 close code and reason on the wire, and every [OnClose] hook learns
// the true cause.
//
// This package is the one import for the common path:
//
//	reg := wsmw.NewRegistry()
//	r := chi.NewRouter()
//	r.Use(wsmw.OnClose(func(c *wsmw.Conn, info wsmw.CloseInfo) {
//		slog.Info("ws closed", "code", int(info.Code), "initiator", info.Initiator.String(), "subject", c.Subject())
//	}))
//	r.Use(wsmw.JWT(wsmw.HMAC(secret))) // 401 without a valid token, or with a revoked one
//	r.Use(wsmw.SessionExpiry(30 * time.Minute))
//	r.Use(wsmw.Heartbeat(20*time.Second, 20*time.Second))
//	r.Use(wsmw.MessageRate(20, 40))
//	r.Get("/rooms/{room}", wsmw.Handler(reg, func(c *wsmw.Conn, r *http.Request) {
//		room := chi.URLParam(r, "room")
//		for {
//			mt, msg, err := c.ReadMessage()
//			if err != nil {
//				return // the arbiter already knows why
//			}
//			c.WriteMessage(mt, append([]byte(room+": "), msg...))
//		}
//	}))
//	srv := &http.Server{Addr: addr, Handler: r}
//	…
//	reg.ShutdownServer(ctx, srv) // http.Server.Shutdown alone leaves every WebSocket open
//
// (the package's Example runs it). It is made of thin functions over the
// packages that hold the parts: [lifecycle] (the Conn, the arbiter, the
// Registry), [middleware] (the net/http glue and the Option convention),
// [auth], [timeout], [ratelimit] and [queue] (the policies). Metrics
// (Prometheus), OpenTelemetry and everything Redis (shared limits,
// cluster-wide revocation) are modules of their own, so that this one
// pulls in none of them.
//
// The causes that [CloseInfo].Cause carries are spelt by the package that
// defines them, with errors.Is: [lifecycle.ErrPeerClosed] and the core's
// others, [timeout.ErrIdleTimeout], [ratelimit.ErrRateLimited],
// [auth.ErrTokenExpired], [queue.ErrSlowConsumer] and the rest of each
// policy's; each policy's doc here names its cause.
//
// Every option is a WithX function, and every constructor names the options
// it takes: one that does not apply panics at start-up, as do a nil handler
// or Registry and values that mean nothing (a negative duration, a burst of
// zero). Zero turns a policy off.
package wsmw

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// Conn is a WebSocket connection with a managed lifecycle
// ([lifecycle.Conn] has all its methods): ReadMessage and WriteMessage
// (safe from any goroutine), Close and CloseWith (one close wins), Context
// (cancelled with the cause when closing starts), Err, Done and Wait,
// Subject, RTT, LoadOrStore for per-connection state, and the extension
// API that policies use (StartTimer, AddReadCheck, [OnClose]).
type Conn = lifecycle.Conn

// CloseInfo describes how a connection ended ([lifecycle.CloseInfo]):
// Code, Reason, Initiator, Cause (errors.Is), the Close frames Sent and
// Received, HandshakeComplete and Duration. [OnClose] hooks receive it;
// [lifecycle.Conn.Wait] returns it.
type CloseInfo = lifecycle.CloseInfo

// CloseError is the error of reads and writes once closing has started,
// and context.Cause of a Conn's context; use errors.As to read its Code
// ([lifecycle.CloseError]).
type CloseError = lifecycle.CloseError

// StatusCode is a WebSocket close code (RFC 6455 §7.4);
// [lifecycle.StatusCode.Sendable] tells the ones that may go on the wire.
type StatusCode = lifecycle.StatusCode

// Initiator tells who ended a connection: [InitiatorLocal],
// [InitiatorPeer] or [InitiatorAbnormal].
type Initiator = lifecycle.Initiator

// MessageType is [TextMessage] or [BinaryMessage].
type MessageType = lifecycle.MessageType

// Registry is the set of live connections ([lifecycle.Registry]): Len,
// Range, Subject, CloseIf, CloseSubject, Revoke, and Shutdown, Restart and
// ShutdownServer for graceful shutdown.
type Registry = lifecycle.Registry

// RegistryOption configures [NewRegistry]: [WithCloseParallelism],
// [WithDrainSpread], [WithRevocationTTL].
type RegistryOption = lifecycle.RegistryOption

// Option configures [Handler] or a policy ([middleware.Option]): every
// WithX function of this package and of the packages below returns one.
type Option = middleware.Option

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

// Close codes that applications choose or meet most.
const (
	StatusNormalClosure   = lifecycle.StatusNormalClosure
	StatusGoingAway       = lifecycle.StatusGoingAway
	StatusProtocolError   = lifecycle.StatusProtocolError
	StatusAbnormalClosure = lifecycle.StatusAbnormalClosure
	StatusPolicyViolation = lifecycle.StatusPolicyViolation
	StatusMessageTooBig   = lifecycle.StatusMessageTooBig
	StatusInternalError   = lifecycle.StatusInternalError
	StatusServiceRestart  = lifecycle.StatusServiceRestart
	StatusTryAgainLater   = lifecycle.StatusTryAgainLater
)

// NewRegistry returns an empty Registry: the live connections, their
// graceful shutdown and revocation. Give the same Registry to every
// Handler of the server.
func NewRegistry(opts ...RegistryOption) *Registry { return lifecycle.NewRegistry(opts...) }

// WithDrainSpread spreads Shutdown's closes over window, in batches, so
// that clients do not all reconnect at once; the window is cut to fit the
// shutdown's deadline. Off by default.
func WithDrainSpread(window time.Duration) RegistryOption {
	return lifecycle.WithDrainSpread(window)
}

// WithRevocationTTL sets how long Revoke is remembered, so that JWT
// refuses the revoked subject's older tokens (24 h by default): your
// tokens' longest lifetime.
func WithRevocationTTL(d time.Duration) RegistryOption { return lifecycle.WithRevocationTTL(d) }

// WithCloseParallelism sets how many Close frames the Registry writes at
// once when it closes many connections (16 per CPU by default).
func WithCloseParallelism(n int) RegistryOption { return connx.WithCloseParallelism(n) }

// Handler returns the handler of a WebSocket endpoint: it upgrades each
// request behind the policies in front of it, then runs fn on the
// connection in a fresh goroutine (so that net/http can release the
// request's buffers); the connection closes with 1000 when fn returns,
// 1011 when it panics. fn gets the upgrade request for its URL and
// headers; use c.Context() for the connection's context. Options:
// [WithOrigins], [WithSubprotocols], [WithCompression], [WithBufferSizes],
// [WithCloseTimeout], [WithLogger] (and middleware's others). The result fits
// chi's r.Get, r.Handle and [http.ServeMux.Handle].
func Handler(reg *Registry, fn func(c *Conn, r *http.Request), opts ...Option) http.HandlerFunc {
	return middleware.Handler(reg, fn, opts...)
}

// EventHandler returns the handler of a WebSocket endpoint in event mode:
// no goroutine waits on an idle connection, and none of its read buffer is
// held. onMessage is called with each data message (after the read checks,
// in order, one at a time per connection) on a worker of a pool shared by
// every event-mode connection; write from it or from anywhere. The
// connection ends only by a close: a policy's, the peer's, c.Close or the
// Registry's; a panic in onMessage closes it with 1011. Every policy, hook
// and close rule is Handler's. onMessage should not block for long: send
// to peers that may not read with Send ([SlowConsumer] bounds it). On systems
// without epoll, for TLS connections, and with [WithReadGoroutines], each
// connection is read by a goroutine of its own calling the same onMessage.
// It takes Handler's options.
func EventHandler(reg *Registry, onMessage func(c *Conn, mt MessageType, data []byte), opts ...Option) http.HandlerFunc {
	return middleware.EventHandler(reg, onMessage, opts...)
}

// WithReadGoroutines makes [EventHandler] read each connection in a
// goroutine of its own (what it does by itself without epoll or with
// TLS), with the same onMessage.
func WithReadGoroutines() Option { return middleware.WithReadGoroutines() }

// OnOpen runs fn on each new connection after every policy has attached,
// right before its handler.
func OnOpen(fn func(*Conn)) func(http.Handler) http.Handler { return middleware.OnOpen(fn) }

// OnClose adds fn as an [OnClose] hook to each connection: it runs exactly
// once, after TCP is closed, with the true cause, for every connection
// that got a 101, however it ended.
func OnClose(fn func(*Conn, CloseInfo)) func(http.Handler) http.Handler {
	return middleware.OnClose(fn)
}

// Policy returns a middleware that runs fn on each new connection before
// its handler: the way to write a policy of your own with the Conn's
// extension API (timers, read checks, hooks, CloseWith). An error closes
// the connection (a [*CloseError] chooses the code) and the handler does not
// run.
func Policy(fn func(*Conn) error) func(http.Handler) http.Handler {
	return middleware.Policy(fn)
}

// WithOrigins allows browsers from other origins whose host matches one of
// the patterns ("*.example.com", "localhost:5173"; "*" for any); the
// request's own host is always allowed, and so are clients that send no
// Origin. A URL instead of a host pattern panics.
func WithOrigins(patterns ...string) Option { return middleware.WithOrigins(patterns...) }

// WithSubprotocols lists the application's subprotocols in order of
// preference.
func WithSubprotocols(protocols ...string) Option {
	return middleware.WithSubprotocols(protocols...)
}

// WithCompression negotiates permessage-deflate when the client offers it.
func WithCompression() Option { return middleware.WithCompression() }

// WithBufferSizes sets each connection's read buffer and the pooled write
// buffers' size (1 KiB and 4 KiB by default).
func WithBufferSizes(read, write int) Option { return middleware.WithBufferSizes(read, write) }

// WithCloseTimeout bounds each connection's close handshake (5 s by
// default).
func WithCloseTimeout(d time.Duration) Option { return middleware.WithCloseTimeout(d) }

// WithLogger sets the logger of Handler or of a policy (slog.Default by
// default). wsmw never logs a token or a query string.
func WithLogger(l *slog.Logger) Option { return middleware.WithLogger(l) }

// WithClose sets the code and reason a policy closes connections with:
// the one way to choose a close, for every policy that closes (timeouts,
// heartbeat, message rate, UTF-8 check, send queue overflow, token
// expiry).
func WithClose(code StatusCode, reason string) Option { return middleware.WithClose(code, reason) }
