package main

import (
	"flag"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/wsmw/wsmw/timeout"
)

// timeoutsPart is the example's timers and write-path guards (issue 4):
// session expiry, idle timeout, heartbeat, optional init timeout, write
// timeout and a bounded send queue per connection. Flags:
// -session-expiry, -idle-timeout, -ping-interval, -pong-timeout (DESIGN.md),
// -init-timeout and -write-timeout. Zero turns a policy off.
type timeoutsPart struct {
	cfg timeout.Config
}

func (p *timeoutsPart) flags(fs *flag.FlagSet) {
	p.cfg = timeout.Recommended()
	fs.DurationVar(&p.cfg.SessionExpiry, "session-expiry", p.cfg.SessionExpiry, "absolute maximum connection lifetime (1008 \"session expired\"); 0 = off")
	fs.DurationVar(&p.cfg.IdleTimeout, "idle-timeout", p.cfg.IdleTimeout, "close after this long without an inbound data message (1001 \"idle timeout\"); 0 = off")
	fs.DurationVar(&p.cfg.PingInterval, "ping-interval", p.cfg.PingInterval, "heartbeat ping interval; 0 = heartbeat off")
	fs.DurationVar(&p.cfg.PongTimeout, "pong-timeout", p.cfg.PongTimeout, "heartbeat: how long to wait for a pong before the peer is taken for dead; 0 = heartbeat off")
	fs.DurationVar(&p.cfg.InitTimeout, "init-timeout", p.cfg.InitTimeout, "first message must arrive within this (4408); 0 = off")
	fs.DurationVar(&p.cfg.WriteTimeout, "write-timeout", p.cfg.WriteTimeout, "bound on every write; 0 = off")
}

func (p *timeoutsPart) setup(a *app, r chi.Router, ws *[]func(http.Handler) http.Handler) error {
	for name, d := range map[string]interface{ Seconds() float64 }{
		"session-expiry": p.cfg.SessionExpiry, "idle-timeout": p.cfg.IdleTimeout,
		"ping-interval": p.cfg.PingInterval, "pong-timeout": p.cfg.PongTimeout,
		"init-timeout": p.cfg.InitTimeout, "write-timeout": p.cfg.WriteTimeout,
	} {
		if d.Seconds() < 0 {
			return fmt.Errorf("-%s must not be negative", name)
		}
	}
	*ws = append(*ws, p.cfg.Policies()...)
	a.log.Info("timeouts",
		"session_expiry", p.cfg.SessionExpiry.String(),
		"idle_timeout", p.cfg.IdleTimeout.String(),
		"ping_interval", p.cfg.PingInterval.String(),
		"pong_timeout", p.cfg.PongTimeout.String(),
		"init_timeout", p.cfg.InitTimeout.String(),
		"write_timeout", p.cfg.WriteTimeout.String(),
	)
	return nil
}
