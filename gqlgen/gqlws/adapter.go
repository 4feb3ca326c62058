package gqlws

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// DefaultInitTimeout is how long a client has, from the upgrade, to be
// acknowledged (connection_init sent and accepted) unless [WithInitTimeout]
// says otherwise.
const DefaultInitTimeout = 10 * time.Second

// Adapter makes wsmw gqlgen's WebSocket implementation: it upgrades through
// wsmw, so that the policies in front of Handler apply to GraphQL
// connections exactly as to wsmw.Handler's, and gives gqlgen a
// WebsocketConn whose closes go through the connection's one arbiter. Make
// one with New; it is safe for concurrent use.
type Adapter struct {
	up          *middleware.Upgrader
	auth        *auth.Authenticator
	token       func(transport.InitPayload) (string, bool)
	initTimeout time.Duration
	reconnect   bool // WithReconnectOnTokenExpiry
	log         *slog.Logger
}

var _ transport.WebsocketImplementation = (*Adapter)(nil)

// Option configures an Adapter.
type Option func(*config)

type config struct {
	auth        *auth.Authenticator
	token       func(transport.InitPayload) (string, bool)
	initTimeout time.Duration
	reconnect   bool
	upgrader    []middleware.Option
	log         *slog.Logger
}

// WithAuthenticator authenticates every connection in band: connection_init
// must carry a token (see [WithTokenFromPayload]), validated and bound with
// a.Authenticate, unless the connection was authenticated at the upgrade;
// a token in the payload of such a connection refreshes its session (same
// subject only). A missing or refused token closes with 4403. Put the same
// Authenticator's Middleware, with [auth.WithTokenOptional], in front of Handler
// so that browsers, which cannot send headers, get through the upgrade.
func WithAuthenticator(a *auth.Authenticator) Option { return func(c *config) { c.auth = a } }

// WithTokenFromPayload sets how the token is found in connection_init's
// payload; found is false when the payload carries none. The default,
// [PayloadToken], reads "token", then an "Authorization" (or
// "authorization") value of the form "Bearer <token>".
func WithTokenFromPayload(fn func(transport.InitPayload) (token string, found bool)) Option {
	return func(c *config) { c.token = fn }
}

// WithInitTimeout bounds the time from the upgrade to connection_ack
// ([DefaultInitTimeout]); a client not acknowledged by then is closed with
// 4408 "connection initialisation timeout" (cause timeout.ErrInitTimeout).
// With in-band authentication this is the time a client has to
// authenticate. d <= 0 turns it off. Leave gqlgen's own InitTimeout at
// zero: it closes with 1002.
func WithInitTimeout(d time.Duration) Option { return func(c *config) { c.initTimeout = d } }

// WithReconnectOnTokenExpiry is for clients whose connectionParams get a
// fresh token each time they connect: a token that expires during a
// session closes it with 4403 "Forbidden: token expired" (cause
// [auth.ErrTokenExpired]), which the graphql-ws client retries, calling
// connectionParams again and resubscribing, so that subscriptions go on
// across the renewal after a short gap (graphql-ws's retry wait). By
// default an expired token closes with 1008 "token expired", which
// graphql-ws treats as fatal: right for clients that must sign in again,
// or whose connectionParams hand back the token they were given (with this
// option those would be refused with 4403 at each retry, until their
// retryAttempts run out). Either way, auth.Refresh on the connection (from
// a mutation sent over it, for example: [ConnFromContext]) moves the end of
// the session without a reconnect.
func WithReconnectOnTokenExpiry() Option { return func(c *config) { c.reconnect = true } }

// WithUpgraderOptions passes options to the wsmw Upgrader (origins, buffer
// sizes, close timeout, read limit, …). The GraphQL subprotocols are always
// offered, before any given here.
func WithUpgraderOptions(opts ...middleware.Option) Option {
	return func(c *config) { c.upgrader = append(c.upgrader, opts...) }
}

// WithLogger sets the logger for the adapter's own lines (a panicking
// gqlgen handler, a misconfiguration). The Upgrader logs to it too unless
// [WithUpgraderOptions] sets another.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// New returns an Adapter whose connections join reg (nil for none).
func New(reg *lifecycle.Registry, opts ...Option) *Adapter {
	cfg := config{initTimeout: DefaultInitTimeout, token: PayloadToken}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if cfg.token == nil {
		cfg.token = PayloadToken
	}
	upOpts := []middleware.Option{
		middleware.WithLogger(cfg.log),
		middleware.WithSubprotocols(SubprotocolTransportWS, SubprotocolLegacy),
	}
	return &Adapter{
		up:          middleware.NewUpgrader(reg, append(upOpts, cfg.upgrader...)...),
		auth:        cfg.auth,
		token:       cfg.token,
		initTimeout: cfg.initTimeout,
		reconnect:   cfg.reconnect,
		log:         cfg.log,
	}
}

// Websocket returns ws set up for the adapter: Implementation is the
// Adapter, and InitFunc runs the in-band authentication ([WithAuthenticator])
// before ws.InitFunc. gqlgen's InitTimeout is cleared, since it closes with
// 1002: the adapter's init timeout ([WithInitTimeout]) applies instead.
//
//	srv.AddTransport(a.Websocket(transport.Websocket{KeepAlivePingInterval: 10 * time.Second}))
func (a *Adapter) Websocket(ws transport.Websocket) transport.Websocket {
	ws.Implementation = a
	ws.InitFunc = a.InitFunc(ws.InitFunc)
	if ws.InitTimeout != 0 {
		a.log.Warn("wsmw/gqlws: gqlgen's InitTimeout is ignored; use the adapter's WithInitTimeout", "init_timeout", ws.InitTimeout)
		ws.InitTimeout = 0
	}
	return ws
}

// Handler wraps gqlgen's handler (a *handler.Server, or anything that
// serves it). Requests that are not WebSocket upgrades pass through. An
// upgrade is made here, through wsmw, before gqlgen sees the request: a
// refused one (403 Origin, 503 draining, …) is answered by wsmw, and gqlgen
// never runs. gqlgen then runs the connection in this request's goroutine;
// its context, and every subscription's, is cancelled as soon as the
// connection starts closing, with the [*lifecycle.CloseError] as
// context.Cause. Handler returns once the connection has ended and its
// OnClose hooks have run: if gqlgen returns without closing, the connection
// is closed with 1011 "internal error" (cause [ErrTransportReturned]).
func (a *Adapter) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !policy.IsUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		c, err := a.up.Upgrade(w, r)
		if err != nil {
			return // answered, or closed, by wsmw
		}
		a.serve(a.newConn(c), w, r, next)
	})
}

func (a *Adapter) serve(wc *conn, w http.ResponseWriter, r *http.Request, next http.Handler) {
	c := wc.c
	ctx, cancel := context.WithCancelCause(context.WithValue(r.Context(), connKey{}, wc))
	wc.cancel = cancel
	stop := context.AfterFunc(c.Context(), func() { cancel(context.Cause(c.Context())) })
	defer func() {
		if p := recover(); p != nil {
			a.log.Error("wsmw/gqlws: handler panicked", "panic", p, "stack", string(debug.Stack()))
			c.CloseWith(fmt.Errorf("%w: %v", lifecycle.ErrHandlerPanic, p), lifecycle.StatusInternalError, "internal error")
		} else {
			// A no-op when gqlgen closed, as it does on every path but a few.
			c.CloseWith(ErrTransportReturned, lifecycle.StatusInternalError, "internal error")
		}
		<-c.Done()
		stop()
		cancel(context.Canceled)
	}()
	next.ServeHTTP(w, r.WithContext(ctx))
}

// Accept implements [transport.WebsocketImplementation] for gqlgen: it hands
// gqlgen the connection that Handler made. It returns [ErrNotWrapped] for a
// request that did not pass through Handler (gqlgen answers 400).
// options.ResponseHeader is not used: wsmw writes the 101 itself (gqlgen
// v0.17.98 passes an empty one).
func (a *Adapter) Accept(_ http.ResponseWriter, r *http.Request, options transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	wc, _ := r.Context().Value(connKey{}).(*conn)
	if wc == nil || wc.a != a {
		return nil, ErrNotWrapped
	}
	if p := wc.proto; p != "" && !slices.Contains(options.Subprotocols, p) {
		connx.CloseAsync(wc.c, fmt.Errorf("%w: %q", ErrSubprotocol, p), StatusSubprotocolNotAcceptable, "Subprotocol not acceptable")
	}
	return wc, nil
}

type connKey struct{}

// ConnFromContext returns the wsmw connection of a GraphQL WebSocket
// request, from the context that gqlgen gives an InitFunc, a resolver of a
// subscription or an operation over the connection; nil elsewhere.
func ConnFromContext(ctx context.Context) *lifecycle.Conn {
	if wc, ok := ctx.Value(connKey{}).(*conn); ok {
		return wc.c
	}
	return nil
}
