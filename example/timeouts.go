package main

import (
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/wsmw/wsmw"
)

// timeoutsPart is the example's timers and write-path guards (issue 4):
// session expiry, idle timeout, heartbeat, optional init timeout, write
// timeout and a bounded send queue per connection. Flags: -session-expiry,
// -idle-timeout, -ping-interval, -pong-timeout (the README's table),
// -init-timeout and -write-timeout. Zero turns a policy off. The defaults
// are the ones wsmw's docs recommend for browser-facing endpoints.
type timeoutsPart struct {
	sessionExpiry, idleTimeout, pingInterval, pongTimeout, initTimeout, writeTimeout time.Duration
}

func (p *timeoutsPart) flags(fs *flag.FlagSet) {
	fs.DurationVar(&p.sessionExpiry, "session-expiry", 30*time.Minute, "absolute maximum connection lifetime (1008 \"session expired\"); 0 = off")
	fs.DurationVar(&p.idleTimeout, "idle-timeout", 5*time.Minute, "close after this long without an inbound data message (1001 \"idle timeout\"); 0 = off")
	fs.DurationVar(&p.pingInterval, "ping-interval", 20*time.Second, "heartbeat ping interval; 0 = heartbeat off")
	fs.DurationVar(&p.pongTimeout, "pong-timeout", 20*time.Second, "heartbeat: how long to wait for a pong before the peer is taken for dead; 0 = heartbeat off")
	fs.DurationVar(&p.initTimeout, "init-timeout", 0, "first message must arrive within this (4408); 0 = off")
	fs.DurationVar(&p.writeTimeout, "write-timeout", 10*time.Second, "bound on every write; 0 = off")
}

func (p *timeoutsPart) setup(a *app, r chi.Router, ws *[]func(http.Handler) http.Handler) error {
	for name, d := range map[string]time.Duration{
		"session-expiry": p.sessionExpiry, "idle-timeout": p.idleTimeout,
		"ping-interval": p.pingInterval, "pong-timeout": p.pongTimeout,
		"init-timeout": p.initTimeout, "write-timeout": p.writeTimeout,
	} {
		if d < 0 {
			return fmt.Errorf("-%s must not be negative", name)
		}
	}
	if p.pingInterval == 0 || p.pongTimeout == 0 {
		p.pingInterval, p.pongTimeout = 0, 0 // either one off turns the heartbeat off
	}
	*ws = append(*ws,
		wsmw.WriteTimeout(p.writeTimeout),
		wsmw.SlowConsumer(),
		wsmw.SessionExpiry(p.sessionExpiry),
		wsmw.InitTimeout(p.initTimeout),
		wsmw.IdleTimeout(p.idleTimeout),
		wsmw.Heartbeat(p.pingInterval, p.pongTimeout),
	)
	a.log.Info("timeouts",
		"session_expiry", p.sessionExpiry.String(),
		"idle_timeout", p.idleTimeout.String(),
		"ping_interval", p.pingInterval.String(),
		"pong_timeout", p.pongTimeout.String(),
		"init_timeout", p.initTimeout.String(),
		"write_timeout", p.writeTimeout.String(),
	)
	return nil
}
