package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
)

// Errors returned by [Upgrader.Upgrade] after it has answered the request
// itself (and [lifecycle.ErrServerShutdown] for 503 while the Registry
// drains).
var (
	errNotUpgrade  = errors.New("wsmw: not a WebSocket upgrade request")             // 426
	errHTTPVersion = errors.New("wsmw: a WebSocket upgrade needs HTTP/1.1 or later") // 400
	errOrigin      = errors.New("wsmw: origin not allowed")                          // 403
	// ErrRefused is returned by Upgrade when a policy refused the request
	// once the Registry was known (the auth policy refuses a revoked
	// subject's older token there) and answered it.
	ErrRefused = errors.New("wsmw: upgrade refused by a policy")
)

// Upgrader upgrades requests into [lifecycle.Conn] values registered with
// a Registry, for callers that run the connection themselves (the gqlws
// adapter does); most code uses [Handler]. Make one with [NewUpgrader] and
// reuse it.
type Upgrader struct {
	reg     *lifecycle.Registry
	cfg     config
	origins originChecker
	ws      websocket.Upgrader
	events  bool // EventHandler's: ServeEvents follows each upgrade
}

// NewUpgrader returns an Upgrader whose connections join reg. It panics
// when reg is nil (a connection that no Registry holds is one that
// [lifecycle.Registry.Shutdown] and Revoke can never reach) or an option
// does not apply. It takes Handler's options.
func NewUpgrader(reg *lifecycle.Registry, opts ...Option) *Upgrader {
	if reg == nil {
		panic("wsmw: nil Registry: every connection must be reachable by Shutdown and Revoke (use lifecycle.NewRegistry)")
	}
	u := &Upgrader{reg: reg, cfg: newConfig(opts)}
	u.origins = originChecker{patterns: u.cfg.origins}
	u.ws = websocket.Upgrader{
		HandshakeTimeout:  u.cfg.handshakeTimeout,
		ReadBufferSize:    u.cfg.readBufferSize,
		WriteBufferSize:   u.cfg.writeBufferSize,
		WriteBufferPool:   u.cfg.writeBufferPool,
		EnableCompression: u.cfg.compression,
		CheckOrigin:       func(*http.Request) bool { return true }, // checked before
		Error: func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
			// As gorilla does without a custom Error: a refused version must
			// name the one we speak (RFC 6455 §4.4).
			w.Header().Set("Sec-WebSocket-Version", "13")
			http.Error(w, http.StatusText(status), status)
		},
	}
	return u
}

// Handler returns the handler of a WebSocket endpoint: it upgrades each
// request ([Upgrader.Upgrade]), runs the policies' functions ([Policy])
// and the [OnOpen] hooks, and then runs fn in a fresh goroutine, so that
// net/http can release the request's buffers. When fn returns the
// connection closes with 1000; when it panics, with 1011 "internal error"
// (logged). fn gets the upgrade request for its URL, headers and values;
// the Conn does not keep it, and its context is net/http's, which ends
// when the upgrade returns: use c.Context() for the connection's (it
// carries the values of [WithValue]). Options: [WithOrigins],
// [WithSubprotocols], [WithCompression], [WithBufferSizes],
// [WithCloseTimeout], [WithLogger]. It panics when reg or fn is nil or an
// option does not apply. An [http.HandlerFunc] is an http.Handler: it fits
// chi's r.Get as well as r.Handle and [http.ServeMux.Handle].
func Handler(reg *lifecycle.Registry, fn func(c *lifecycle.Conn, r *http.Request), opts ...Option) http.HandlerFunc {
	if fn == nil {
		panic("wsmw: nil handler function")
	}
	u := NewUpgrader(reg, opts...)
	if u.cfg.goroutines {
		panic("wsmw: WithReadGoroutines does not apply to Handler (it is EventHandler's)")
	}
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r)
		if err != nil {
			return
		}
		// Return to net/http now: it keeps the request's buffers for as long
		// as its handler runs.
		go u.serve(c, r, fn)
	}
}

func (u *Upgrader) serve(c *lifecycle.Conn, r *http.Request, fn func(*lifecycle.Conn, *http.Request)) {
	defer func() {
		if p := recover(); p != nil {
			u.cfg.logger.Error("wsmw: handler panicked", "panic", p, "stack", string(debug.Stack()))
			c.CloseWith(fmt.Errorf("%w: %v", lifecycle.ErrHandlerPanic, p), lifecycle.StatusInternalError, "internal error")
			return
		}
		c.CloseWith(lifecycle.ErrHandlerReturned, lifecycle.StatusNormalClosure, "")
	}()
	fn(c, r)
}

// Upgrade upgrades r, answering it with an HTTP error when it cannot: 426
// when it is not an upgrade, 400 for HTTP/1.0 (RFC 6455 §4.1 wants 1.1),
// 503 while the Registry drains (the error is
// [lifecycle.ErrServerShutdown]), 403 for a foreign Origin, gorilla's 400
// for a malformed handshake; each refusal is logged at Debug level, rate
// limited process-wide. Then the checks that policies left for the moment
// the Registry is known run (the auth policy's revocation check): one that
// refuses has answered the request, and Upgrade returns [ErrRefused].
// After the 101 it adds the policies' [OnClose] hooks ([OnClose],
// [AddCloseHook]) to the new Conn, then runs the policies' functions
// ([Policy]) and the [OnOpen] hooks; if one fails, or the Registry refused
// the connection, the connection is closing and Upgrade returns the error
// (the hooks still run, once, when it has ended). The caller owns the
// returned Conn and must end it ([lifecycle.Conn.Close]) when done.
func (u *Upgrader) Upgrade(w http.ResponseWriter, r *http.Request) (*lifecycle.Conn, error) {
	if !policy.IsUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, http.StatusText(http.StatusUpgradeRequired), http.StatusUpgradeRequired)
		return nil, errNotUpgrade
	}
	if !r.ProtoAtLeast(1, 1) {
		policy.LogRefusal(u.cfg.logger, r, http.StatusBadRequest, "HTTP version below 1.1", slog.String("proto", r.Proto))
		http.Error(w, "WebSocket needs HTTP/1.1", http.StatusBadRequest)
		return nil, errHTTPVersion
	}
	if connx.Draining(u.reg) {
		policy.LogRefusal(u.cfg.logger, r, http.StatusServiceUnavailable, "draining for shutdown")
		w.Header().Set("Retry-After", "5")
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return nil, lifecycle.ErrServerShutdown
	}
	if !u.origins.allowed(r) {
		policy.LogRefusal(u.cfg.logger, r, http.StatusForbidden, "origin not allowed",
			slog.String("origin", r.Header.Get("Origin")), slog.String("host", r.Host), slog.Any("allowed", u.origins.patterns))
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		return nil, errOrigin
	}
	st := policy.StateOf(r.Context())
	if st != nil && !st.RunChecks(w, r, u.reg) {
		return nil, ErrRefused // answered by the check
	}
	var header http.Header
	if proto := u.selectSubprotocol(r, st); proto != "" {
		header = http.Header{"Sec-Websocket-Protocol": {proto}}
	}
	cfg := connx.Config{
		Context:      policy.ConnContext(r, st),
		CloseTimeout: u.cfg.closeTimeout,
		Logger:       u.cfg.logger,
		Registry:     u.reg,
		Events:       u.events,
	}
	if st != nil {
		cfg.Subject, cfg.OnClose = st.Subject(), st.Hooks()
	}
	c, err := connx.Accept(w, r, &u.ws, header, cfg)
	if c == nil {
		return nil, err
	}
	var steps []policy.Step
	if st != nil {
		steps = st.Upgraded(c) // the connection does not keep them
	}
	if err != nil {
		return nil, err // the Registry refused it; it is closing
	}
	for _, onOpen := range [2]bool{false, true} { // attachments, then OnOpen
		for _, s := range steps {
			if s.Fn == nil || s.OnOpen != onOpen {
				continue
			}
			if err := policy.RunAttachment(c, s.Fn); err != nil {
				var ce *lifecycle.CloseError
				if errors.As(err, &ce) {
					cause := ce.Cause // the cause, not the CloseError that carries it
					if cause == nil {
						cause = err
					}
					connx.CloseAsync(c, cause, ce.Code, ce.Reason)
				} else {
					connx.CloseAsync(c, err, lifecycle.StatusInternalError, "internal error")
				}
				return nil, err
			}
			if c.Err() != nil {
				return nil, context.Cause(c.Context())
			}
		}
	}
	return c, nil
}

// selectSubprotocol picks the first of the application's subprotocols that
// the client offered, else the request's fallback if offered, else none.
func (u *Upgrader) selectSubprotocol(r *http.Request, st *policy.State) string {
	offered := websocket.Subprotocols(r)
	for _, want := range u.cfg.subprotocols {
		for _, o := range offered {
			if o == want {
				return want
			}
		}
	}
	if st == nil || st.Fallback() == "" {
		return ""
	}
	for _, o := range offered {
		if o == st.Fallback() {
			return o
		}
	}
	return ""
}
