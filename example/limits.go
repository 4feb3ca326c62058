package main

import (
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/wsmw/wsmw"
)

// limitsPart is the example's connect rate, connection cap, message rate,
// message size and UTF-8 check (issue 5). Flags: -connect-rate (upgrades
// per minute per client IP), -max-conns-per-ip, -msg-rate, -msg-burst,
// -max-message-size; with -redis, the connect rate and connection cap are
// shared through Redis (failing open, with a log line, while it is
// unreachable). Zero turns a limit off. The client IP is the TCP peer: the
// example trusts no forwarding header (behind a proxy, put chi's
// middleware.ClientIPFromXFF with the proxy's addresses in front).
type limitsPart struct {
	connectRate    int
	maxConnsPerIP  int
	msgRate        float64
	msgBurst       int
	maxMessageSize int64
}

func (p *limitsPart) flags(fs *flag.FlagSet) {
	fs.IntVar(&p.connectRate, "connect-rate", 60, "WebSocket upgrades per minute per client IP (429 beyond); 0 = off")
	fs.IntVar(&p.maxConnsPerIP, "max-conns-per-ip", 100, "open WebSocket connections per client IP (429 beyond); 0 = off")
	fs.Float64Var(&p.msgRate, "msg-rate", 20, "messages per second per connection (1008 \"rate limit exceeded\" beyond); 0 = off")
	fs.IntVar(&p.msgBurst, "msg-burst", 40, "message burst per connection")
	fs.Int64Var(&p.maxMessageSize, "max-message-size", 65536, "largest message in bytes (1009 \"message too big\" beyond)")
}

func (p *limitsPart) setup(a *app, r chi.Router, ws *[]func(http.Handler) http.Handler) error {
	switch {
	case p.connectRate < 0, p.maxConnsPerIP < 0, p.msgRate < 0, p.msgBurst < 0:
		return fmt.Errorf("-connect-rate, -max-conns-per-ip, -msg-rate and -msg-burst must not be negative")
	case p.maxMessageSize <= 0:
		return fmt.Errorf("-max-message-size must be positive")
	case p.msgRate > 0 && p.msgBurst == 0:
		return fmt.Errorf("-msg-burst must be positive when -msg-rate is set")
	}
	opts := []wsmw.Option{wsmw.WithLogger(a.log)}
	store := "memory"
	if rs := a.observe().store; rs != nil { // -redis: the Store observe.go made
		opts = append(opts, wsmw.WithStore(rs))
		store = "redis"
	}
	*ws = append(*ws,
		wsmw.ConnectRate(p.connectRate, time.Minute, opts...),
		wsmw.MaxConns(p.maxConnsPerIP, opts...),
		wsmw.MaxMessageSize(p.maxMessageSize),
		wsmw.ValidUTF8(),
		wsmw.MessageRate(p.msgRate, p.msgBurst),
	)
	a.log.Info("limits",
		"connect_rate_per_minute", p.connectRate,
		"max_conns_per_ip", p.maxConnsPerIP,
		"msg_rate", p.msgRate,
		"msg_burst", p.msgBurst,
		"max_message_size", p.maxMessageSize,
		"store", store,
	)
	return nil
}
