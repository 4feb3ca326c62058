package bench

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wsmw/wsmw"
	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/metrics"
)

func init() { register(WSMWExampleEvents, newWSMWExampleEvents) }

// ExampleIssuer is the issuer the example's JWT policy requires; the
// benchmarks' tokens carry it.
const ExampleIssuer = "wsmw-example"

// The example's defaults (example/limits.go, example/timeouts.go), but for
// the limits no benchmark could run under: every client here is
// 127.0.0.1, and the echo benchmarks send thousands of messages a second
// on one connection. Those stay on, with limits never reached.
const (
	exampleConnectRate    = 1 << 30 // upgrades per minute per IP (the example's default: 60)
	exampleMaxConnsPerIP  = 1 << 20 // (the example's default: 100)
	exampleMessageRate    = 1e6     // per second per connection (the example's default: 20)
	exampleMessageBurst   = 1e6     // (the example's default: 40)
	exampleMaxMessageSize = 64 << 10
	exampleWriteTimeout   = 10 * time.Second
	exampleSessionExpiry  = 30 * time.Minute
	exampleIdleTimeout    = 5 * time.Minute
	examplePingInterval   = 20 * time.Second
	examplePongTimeout    = 20 * time.Second
)

// ExamplePolicies names the policies of the example's /ws with its
// default flags (no -redis, no OpenTelemetry), outermost first, as
// [ExampleStack] builds them. A row named WSMWExampleEvents+"@"+K runs the
// first K of them (the per-policy accounting of bench/MEMORY.md).
var ExamplePolicies = []string{
	"metrics", "connect-rate", "max-conns-per-ip", "max-message-size", "valid-utf8", "msg-rate",
	"jwt", "write-timeout", "slow-consumer", "session-expiry", "init-timeout", "idle-timeout",
	"heartbeat", "log-close",
}

// ExampleStack returns the policies of the example's /ws, outermost first
// and named as in [ExamplePolicies]: Prometheus metrics (with the Go and
// process collectors registered as the example does), connect rate and
// connections per IP, message size, UTF-8, message rate, JWT (HS256 with
// o.Secret and the example's issuer), write timeout, slow consumer,
// session expiry, init timeout (off by default: a pass-through), idle
// timeout, heartbeat (every 20 s, or o.Ping) and the example's "ws closed"
// log line. Every policy logs to log.
func ExampleStack(o Options, log *slog.Logger) ([]func(http.Handler) http.Handler, error) {
	prom := prometheus.NewRegistry()
	prom.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(prom)
	if err != nil {
		return nil, err
	}
	a, err := auth.New(wsmw.HMAC(o.Secret), wsmw.WithIssuer(ExampleIssuer), wsmw.WithLogger(log))
	if err != nil {
		return nil, err
	}
	ping, pong := examplePingInterval, examplePongTimeout
	if o.Ping > 0 {
		ping, pong = o.Ping, o.PongTimeout
	}
	return []func(http.Handler) http.Handler{
		m.Middleware,
		wsmw.ConnectRate(exampleConnectRate, time.Minute, wsmw.WithLogger(log)),
		wsmw.MaxConns(exampleMaxConnsPerIP, wsmw.WithLogger(log)),
		wsmw.MaxMessageSize(exampleMaxMessageSize),
		wsmw.ValidUTF8(),
		wsmw.MessageRate(exampleMessageRate, exampleMessageBurst),
		a.Middleware,
		wsmw.WriteTimeout(exampleWriteTimeout),
		wsmw.SlowConsumer(),
		wsmw.SessionExpiry(exampleSessionExpiry),
		wsmw.InitTimeout(0),
		wsmw.IdleTimeout(exampleIdleTimeout),
		wsmw.Heartbeat(ping, pong),
		wsmw.OnClose(logClose(log)),
	}, nil
}

// examplePrefix returns how many of [ExamplePolicies] row name runs, and
// whether it is an example row at all.
func examplePrefix(name string) (k int, ok bool) {
	if name == WSMWExampleEvents {
		return len(ExamplePolicies), true
	}
	rest, ok := strings.CutPrefix(name, WSMWExampleEvents+"@")
	if !ok {
		return 0, false
	}
	k, err := strconv.Atoi(rest)
	if err != nil || k < 0 || k > len(ExamplePolicies) {
		return 0, false
	}
	return k, true
}

// exampleNeedsToken reports whether the first k example policies include
// the JWT policy.
func exampleNeedsToken(k int) bool { return slices.Index(ExamplePolicies, "jwt") < k }

// newWSMWExampleEvents is the example's /ws in events mode with its
// default policies: chi's router, [ExampleStack], an OnClose log line, and
// [wsmw.EventHandler] with the example's logger and options answering as
// the example does (echo, or a token refresh command).
func newWSMWExampleEvents(s *Server, o Options) error { return s.serveExample(o, len(ExamplePolicies)) }

// serveExample serves the example's /ws in events mode behind the first k
// policies of [ExampleStack].
func (s *Server) serveExample(o Options, k int) error {
	log := slog.New(slog.NewTextHandler(io.Discard, nil)) // formats every line, as the example's does
	stack, err := ExampleStack(o, log)
	if err != nil {
		return err
	}
	reg := wsmw.NewRegistry(wsmw.WithDrainSpread(0))
	h := wsmw.EventHandler(reg, func(c *wsmw.Conn, mt wsmw.MessageType, msg []byte) {
		if o.blocks(msg) {
			<-blockForever
		}
		exampleAnswer(c, mt, msg)
	}, wsmw.WithLogger(log))
	r := chi.NewRouter()
	r.With(stack[:k]...).Get("/ws", s.counted(h).ServeHTTP)
	s.Handler = r
	s.Shutdown = reg.Shutdown
	return nil
}

// exampleAnswer is the example's answer to a message: a text message that
// is a refresh command refreshes the connection's token, any other message
// is echoed.
func exampleAnswer(c *wsmw.Conn, mt wsmw.MessageType, msg []byte) {
	if mt == wsmw.TextMessage {
		var cmd struct {
			Type  string `json:"type"`
			Token string `json:"token"`
		}
		if json.Unmarshal(msg, &cmd) == nil && cmd.Type == "refresh" {
			reply := []byte(`{"type":"refreshed"}`)
			if err := wsmw.Refresh(c, cmd.Token); err != nil {
				reply = []byte(`{"type":"error","error":"invalid token"}`)
			}
			c.WriteMessage(wsmw.TextMessage, reply)
			return
		}
	}
	c.WriteMessage(mt, msg)
}

// logClose is the example's OnClose hook: one "ws closed" line per
// connection.
func logClose(log *slog.Logger) func(*wsmw.Conn, wsmw.CloseInfo) {
	return func(c *wsmw.Conn, info wsmw.CloseInfo) {
		cause := ""
		if info.Cause != nil {
			cause = info.Cause.Error()
		}
		log.Info("ws closed",
			"code", int(info.Code),
			"reason", info.Reason,
			"initiator", info.Initiator.String(),
			"cause", cause,
			"duration", info.Duration.String(),
			"subject", c.Subject(),
		)
	}
}
