// Command example serves GraphQL subscriptions with gqlgen behind wsmw: the
// schema `type Query { hello: String! }` and `type Subscription {
// ticks(everyMs: Int!): Int! }`, queries over HTTP and subscriptions over
// WebSocket (graphql-transport-ws, or the legacy graphql-ws) at /query,
// with the token in connection_init's payload as {"token": "<jwt>"} (the
// Authorization header, the bearer subprotocol and ?access_token= work
// too). Its flags and endpoints are a contract that the tests and docs rely
// on.
//
//	cd gqlgen && go run ./example
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw"
	"github.com/wsmw/wsmw/auth"

	"github.com/wsmw/wsmw/gqlgen/example/graph"
	"github.com/wsmw/wsmw/gqlgen/gqlws"
)

// demoSecret signs demo tokens unless -secret is given; it is the main
// example's, so that their tokens work on both. Anyone who reads this file
// can mint tokens with it: never use it outside a demo.
const demoSecret = "wsmw-demo-secret-do-not-use-in-production"

// Demo token limits, as in the main example.
const (
	demoIssuer     = "wsmw-example"
	bannerTokenTTL = time.Hour
	defaultTTL     = 10 * time.Minute
	maxTTL         = 24 * time.Hour
	maxSubjectLen  = 64
)

// keepAlive is gqlgen's "ka" interval for legacy graphql-ws clients:
// subscriptions-transport-ws drops a connection whose "ka" messages stop
// (30 s by default) once it has seen the first, which gqlgen always sends.
const keepAlive = 10 * time.Second

type app struct {
	addr            string
	secret          string
	sessionExpiry   time.Duration
	initTimeout     time.Duration
	pingInterval    time.Duration
	pongTimeout     time.Duration
	shutdownTimeout time.Duration
	logFormat       string
	maxPerSubject   int
	renewOnExpiry   bool

	log    *slog.Logger
	reg    *wsmw.Registry
	authn  *auth.Authenticator
	stdout io.Writer
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout}
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&a.addr, "addr", "127.0.0.1:8081", "listen address")
	fs.StringVar(&a.secret, "secret", demoSecret, "HS256 key for demo tokens (the default is a fixed, public demo secret)")
	fs.DurationVar(&a.sessionExpiry, "session-expiry", 30*time.Minute, "absolute connection lifetime (SessionExpiry); 0 = off")
	fs.DurationVar(&a.initTimeout, "init-timeout", 10*time.Second, "time from the upgrade to connection_ack, authentication included; 0 = off")
	fs.DurationVar(&a.pingInterval, "ping-interval", 20*time.Second, "WebSocket ping interval (Heartbeat); 0 = off")
	fs.DurationVar(&a.pongTimeout, "pong-timeout", 20*time.Second, "time allowed for a pong (Heartbeat)")
	fs.DurationVar(&a.shutdownTimeout, "shutdown-timeout", 10*time.Second, "graceful shutdown bound")
	fs.StringVar(&a.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&a.renewOnExpiry, "reconnect-on-token-expiry", false, "close a session whose token expires with 4403 \"Forbidden: token expired\", which graphql-ws retries with a fresh connectionParams, instead of the fatal 1008 \"token expired\"")
	fs.IntVar(&a.maxPerSubject, "max-conns-per-subject", 0, "open connections allowed per subject, counted when the token arrives (1013 \"too many connections\" in band, 429 at the upgrade); 0 = off")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if a.maxPerSubject < 0 {
		fmt.Fprintln(stderr, "-max-conns-per-subject must not be negative")
		return 2
	}
	switch a.logFormat {
	case "json":
		a.log = slog.New(slog.NewJSONHandler(stderr, nil))
	case "text":
		a.log = slog.New(slog.NewTextHandler(stderr, nil))
	default:
		fmt.Fprintf(stderr, "unknown -log-format %q\n", a.logFormat)
		return 2
	}
	if a.secret == demoSecret {
		a.log.Warn("using the fixed demo secret: anyone can mint tokens; pass -secret for anything but a demo")
	}
	var err error
	// TokenOptional: a browser cannot send headers, so the token usually
	// comes in connection_init, within -init-timeout of the upgrade.
	a.authn, err = auth.New(wsmw.HMAC([]byte(a.secret)), wsmw.WithIssuer(demoIssuer), wsmw.WithLogger(a.log), auth.WithTokenOptional())
	if err != nil {
		a.log.Error("setup failed", "err", err)
		return 1
	}
	a.reg = wsmw.NewRegistry()

	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		a.log.Error("listen failed", "err", err)
		return 1
	}
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.banner(ln.Addr().String())

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		a.log.Error("server failed", "err", err)
		return 1
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "timeout", a.shutdownTimeout.String(), "connections", a.reg.Len())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.shutdownTimeout)
	defer cancel()
	// Every GraphQL connection gets 1001 "server shutting down", which
	// graphql-ws clients retry with backoff.
	if err := a.reg.ShutdownServer(shutdownCtx, srv); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Warn("shutdown forced", "err", err)
	}
	<-served
	a.log.Info("stopped")
	return 0
}

// routes: /query behind the policies, the demo token, revocation and the
// health check.
func (a *app) routes() http.Handler {
	opts := []gqlws.Option{
		gqlws.WithAuthenticator(a.authn),
		gqlws.WithInitTimeout(a.initTimeout),
		gqlws.WithLogger(a.log),
	}
	if a.renewOnExpiry {
		opts = append(opts, gqlws.WithReconnectOnTokenExpiry())
	}
	gql := gqlws.New(a.reg, opts...)
	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}))
	srv.AddTransport(gql.Websocket(transport.Websocket{KeepAlivePingInterval: keepAlive}))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.Use(extension.Introspection{})

	// On a GraphQL connection the codes are chosen for the graphql-ws
	// client (see the gqlws package documentation): a session that
	// reaches its maximum lifetime, and a peer that misses a pong, get 1001,
	// which the client retries (re-sending its connectionParams), where
	// wsmw's defaults (1008, 1011) are fatal to it. Token expiry is fatal
	// (1008 "token expired": the application must get a new token) unless
	// -reconnect-on-token-expiry makes it a 4403 that the client retries.
	// Revocation (1008 "session revoked") stays fatal, and holds with no
	// option: the subject's older tokens are refused from then on (401 at
	// the upgrade, 4403 at connection_init).
	//
	// The per-subject cap comes right after the JWT policy: a token at the
	// upgrade takes its slot there (429 when full); a token in
	// connection_init takes it when Authenticate sets the subject (1013
	// "too many connections" when full, which graphql-ws retries with
	// backoff).
	policies := []func(http.Handler) http.Handler{
		wsmw.OnClose(a.logClose),
		a.authn.Middleware,
		wsmw.MaxConns(a.maxPerSubject, wsmw.WithKey(wsmw.KeyBySubject)),
		wsmw.SessionExpiry(a.sessionExpiry, wsmw.WithClose(wsmw.StatusGoingAway, "session expired")),
		wsmw.Heartbeat(a.pingInterval, a.pongTimeout, wsmw.WithClose(wsmw.StatusGoingAway, "keepalive ping timeout")),
	}

	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	r.Get("/token", a.token)
	r.Post("/admin/revoke", a.revoke)
	r.With(policies...).Handle("/query", gql.Handler(srv))
	return r
}

func (a *app) banner(addr string) {
	fmt.Fprintf(a.stdout, "wsmw gqlgen example listening on http://%s/query\n", addr)
	fmt.Fprintf(a.stdout, "GraphQL subscriptions: ws://%s/query (graphql-transport-ws or graphql-ws; token in connection_init as {\"token\": \"…\"})\n", addr)
	if tok, err := a.mint("demo", bannerTokenTTL); err == nil {
		fmt.Fprintf(a.stdout, "Demo token (sub=demo, valid 1h; demo only): %s\n", tok)
	}
	fmt.Fprintf(a.stdout, "More tokens: http://%s/token?sub=NAME&ttl=10m  Revoke: curl -X POST 'http://%s/admin/revoke?sub=NAME'\n", addr, addr)
}

// logClose writes the one "ws closed" line of every connection: never a
// token, and code as a number.
func (a *app) logClose(c *wsmw.Conn, info wsmw.CloseInfo) {
	cause := ""
	if info.Cause != nil {
		cause = info.Cause.Error()
	}
	a.log.Info("ws closed",
		"code", int(info.Code),
		"reason", info.Reason,
		"initiator", info.Initiator.String(),
		"cause", cause,
		"duration", info.Duration.String(),
		"subject", c.Subject(),
	)
}

// mint signs a demo token for sub that expires after ttl.
func (a *app) mint(sub string, ttl time.Duration) (string, error) {
	now := time.Now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer:    demoIssuer,
		Subject:   sub,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}).SignedString([]byte(a.secret))
}

// token answers GET /token?sub=NAME&ttl=DURATION with a demo token, as the
// main example does.
func (a *app) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sub := q.Get("sub")
	if sub == "" {
		sub = "demo"
	}
	if len(sub) > maxSubjectLen {
		http.Error(w, "sub: at most "+strconv.Itoa(maxSubjectLen)+" bytes", http.StatusBadRequest)
		return
	}
	ttl := defaultTTL
	if s := q.Get("ttl"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second || d > maxTTL {
			http.Error(w, "ttl: a duration from 1s to 24h, such as 30s or 10m", http.StatusBadRequest)
			return
		}
		ttl = d
	}
	tok, err := a.mint(sub, ttl)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(struct {
		Token     string `json:"token"`
		TokenType string `json:"token_type"`
		ExpiresIn int64  `json:"expires_in"`
		Subject   string `json:"sub"`
		Note      string `json:"note"`
	}{tok, "Bearer", int64(ttl / time.Second), sub, "demo only: this endpoint hands a token to anyone"})
}

// revoke answers POST /admin/revoke?sub=NAME, from loopback only: every
// connection of sub closes with 1008 "session revoked".
func (a *app) revoke(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
		return
	}
	sub := r.URL.Query().Get("sub")
	if sub == "" {
		http.Error(w, "sub is required", http.StatusBadRequest)
		return
	}
	n := a.reg.Revoke(sub)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"revoked\":%d}\n", n)
}
