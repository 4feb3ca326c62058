// Command example is wsmw's demo server: a chi router with every policy on,
// in-memory stores, an echo endpoint at /ws and a demo page at /. Its flags
// and endpoints are a contract that the conformance suite, the docs and
// scripts rely on (see the README's "The example server").
//
//	go run ./example
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/wsmw/wsmw"
	"github.com/wsmw/wsmw/lifecycle"
)

// app is the example server: its settings, logger and live connections.
// Each capability adds its flags, middleware and routes from its own file
// (auth.go, timeouts.go, limits.go, observe.go).
type app struct {
	addr            string
	logFormat       string
	readMode        string // "goroutine" or "events"
	shutdownTimeout time.Duration
	drainSpread     time.Duration
	origins         string
	redisAddr       string // shared by every part that can use Redis

	log    *slog.Logger
	reg    *wsmw.Registry
	stdout io.Writer
	parts  []part
}

// part is one capability's share of the example.
type part interface {
	flags(fs *flag.FlagSet)
	// setup runs after flags are parsed; it may add middleware and routes.
	setup(a *app, r chi.Router, ws *[]func(http.Handler) http.Handler) error
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout}
	a.parts = allParts()
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&a.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&a.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&a.readMode, "read-mode", readGoroutine, "how /ws reads: goroutine (a goroutine per connection) or events (one epoll loop, no goroutine per idle connection; goroutines where the platform has no epoll)")
	fs.DurationVar(&a.shutdownTimeout, "shutdown-timeout", 10*time.Second, "graceful shutdown bound")
	fs.DurationVar(&a.drainSpread, "drain-spread", 0, "spread a shutdown's closes over this window, within -shutdown-timeout; 0 = all at once")
	fs.StringVar(&a.origins, "origins", "", "comma-separated allowed Origin host patterns; empty = same origin only")
	fs.StringVar(&a.redisAddr, "redis", "", redisUsage)
	for _, p := range a.parts {
		p.flags(fs)
	}
	if err := fs.Parse(args); err != nil {
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
	if a.readMode != readGoroutine && a.readMode != readEvents {
		fmt.Fprintf(stderr, "unknown -read-mode %q (goroutine or events)\n", a.readMode)
		return 2
	}
	if a.shutdownTimeout <= 0 || a.drainSpread < 0 {
		fmt.Fprintln(stderr, "-shutdown-timeout must be positive and -drain-spread not negative")
		return 2
	}
	a.reg = wsmw.NewRegistry(lifecycle.WithDrainSpread(a.drainSpread))

	handler, err := a.routes()
	if err != nil {
		a.log.Error("setup failed", "err", err)
		return 1
	}
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		a.log.Error("listen failed", "err", err)
		return 1
	}
	srv := &http.Server{
		Handler: handler,
		// Slowloris: a client that trickles its request headers holds a
		// connection and a goroutine; cap how long headers and idle
		// keep-alive connections may take. No ReadTimeout/WriteTimeout: they
		// would cut long-lived WebSockets, whose own policies bound them.
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
	if err := a.reg.ShutdownServer(shutdownCtx, srv); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Warn("shutdown forced", "err", err)
	}
	<-served
	a.flushTelemetry(shutdownCtx) // every connection has ended, and so has its span
	a.observe().close()
	a.log.Info("stopped")
	return 0
}

func (a *app) banner(addr string) {
	fmt.Fprintf(a.stdout, "wsmw example listening on http://%s/\n", addr)
	fmt.Fprintf(a.stdout, "WebSocket echo: ws://%s/ws (read mode: %s)\n", addr, a.readMode)
	for _, p := range a.parts {
		if b, ok := p.(interface{ banner(io.Writer, string) }); ok {
			b.banner(a.stdout, addr)
		}
	}
}

// routes builds the router: the policies in front of /ws, then the
// endpoints.
func (a *app) routes() (http.Handler, error) {
	r := chi.NewRouter()
	var ws []func(http.Handler) http.Handler
	for _, p := range a.parts {
		if err := p.setup(a, r, &ws); err != nil {
			return nil, err
		}
	}
	ws = append(ws, wsmw.OnClose(a.logClose))
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	r.With(ws...).Get("/ws", a.wsHandler())
	a.log.Info("read mode", "read_mode", a.readMode)
	return r, nil
}

// Read modes (-read-mode).
const (
	readGoroutine = "goroutine"
	readEvents    = "events"
)

// wsHandler is /ws's handler in the chosen read mode: the same echo and
// commands, read by a goroutine per connection (a loop on ReadMessage) or
// by wsmw's event loop (a function per message, no goroutine while a
// connection is idle). The policies in front of it are the same.
func (a *app) wsHandler() http.HandlerFunc {
	if a.readMode == readEvents {
		return wsmw.EventHandler(a.reg, func(c *wsmw.Conn, mt wsmw.MessageType, msg []byte) {
			a.answer(c, mt, msg) // a failed write ends the connection by itself
		}, a.upgradeOptions()...)
	}
	return wsmw.Handler(a.reg, a.echo, a.upgradeOptions()...)
}

func (a *app) upgradeOptions() []wsmw.Option {
	opts := []wsmw.Option{wsmw.WithLogger(a.log)}
	if a.origins != "" {
		opts = append(opts, wsmw.WithOrigins(splitList(a.origins)...))
	}
	return opts
}

// echo is the goroutine mode's read loop: it answers every message until
// the connection ends.
func (a *app) echo(c *wsmw.Conn, _ *http.Request) {
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return // the arbiter already knows why
		}
		if a.answer(c, mt, msg) != nil {
			return
		}
	}
}

// answer sends a text or binary message back; a text message that is a
// command (a token refresh) is answered instead. A write that fails has
// ended the connection.
func (a *app) answer(c *wsmw.Conn, mt wsmw.MessageType, msg []byte) error {
	if mt == wsmw.TextMessage {
		if reply, handled := a.command(c, msg); handled {
			if reply == nil {
				return nil
			}
			return c.WriteMessage(wsmw.TextMessage, reply)
		}
	}
	return c.WriteMessage(mt, msg)
}

// command handles the JSON commands of the parts that define any.
func (a *app) command(c *wsmw.Conn, msg []byte) ([]byte, bool) {
	for _, p := range a.parts {
		if h, ok := p.(interface {
			command(*wsmw.Conn, []byte) ([]byte, bool)
		}); ok {
			if reply, handled := h.command(c, msg); handled {
				return reply, true
			}
		}
	}
	return nil, false
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
