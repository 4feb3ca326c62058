package middleware

import (
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
)

// Option configures the Upgrader ([Handler], [EventHandler],
// [NewUpgrader]) or one of wsmw's policies. Every option of every wsmw
// package is an Option made by a WithX function, and every constructor
// lists the options it takes: given one that it does not take, it panics
// with a message naming both, so that a misplaced option fails at
// start-up instead of being silently ignored.
type Option interface {
	// OptionName returns the option's name, such as "WithClose", for the
	// message of a misplaced option.
	OptionName() string
}

// WithClose sets the code and reason a policy closes connections with,
// instead of its default (each policy's doc names its own; the README
// has them all in one table). It is the one way to choose a close, for
// every policy that closes: the timeouts, the heartbeat's best-effort
// frame, the message rate, the UTF-8 check, the send queue's overflow and
// the token's expiry. A code that may not be sent (see
// [lifecycle.StatusCode.Sendable]) panics.
func WithClose(code lifecycle.StatusCode, reason string) Option {
	if !code.Sendable() {
		panic(fmt.Sprintf("wsmw: WithClose(%d, …): %v may not be sent in a Close frame", int(code), code))
	}
	return policy.CloseOption{Code: code, Reason: connx.TruncateReason(reason)}
}

// WithLogger sets the logger of the [Upgrader] (handler panics, refused
// upgrades, the connections' own lines) or of a policy (its refusals and
// failures); slog.Default() otherwise. Refused upgrades are logged at
// Debug level, rate limited process-wide. Nothing wsmw logs holds a token
// or a query string.
func WithLogger(l *slog.Logger) Option {
	if l == nil {
		panic("wsmw: WithLogger(nil)")
	}
	return policy.LoggerOption{Logger: l}
}

// Defaults of the upgrader. A 1 KiB read buffer and pooled write buffers
// halve a connection's idle memory against gorilla's defaults; the
// handshake timeout bounds writing the 101 response.
const (
	defaultReadBufferSize   = 1024
	defaultWriteBufferSize  = 4096
	defaultHandshakeTimeout = 10 * time.Second
)

// upgraderOption is an option of the Upgrader alone.
type upgraderOption struct {
	name  string
	apply func(*config)
}

func (o upgraderOption) OptionName() string { return o.name }

type config struct {
	origins          []string
	readBufferSet    bool // WithBufferSizes set the read buffer
	goroutines       bool // WithReadGoroutines
	subprotocols     []string
	compression      bool
	readBufferSize   int
	writeBufferSize  int
	writeBufferPool  *sync.Pool
	handshakeTimeout time.Duration
	closeTimeout     time.Duration
	logger           *slog.Logger
}

func newConfig(opts []Option) config {
	cfg := config{
		readBufferSize:   defaultReadBufferSize,
		writeBufferSize:  defaultWriteBufferSize,
		handshakeTimeout: defaultHandshakeTimeout,
		logger:           slog.Default(),
	}
	policy.ApplyOptions("Handler", opts, func(o Option) bool {
		switch o := o.(type) {
		case upgraderOption:
			o.apply(&cfg)
		case policy.LoggerOption:
			cfg.logger = o.Logger
		default:
			return false
		}
		return true
	})
	cfg.writeBufferPool = sharedWriteBuffers(cfg.writeBufferSize)
	return cfg
}

var (
	writePoolsMu sync.Mutex
	writePools   = map[int]*sync.Pool{}
)

// sharedWriteBuffers returns one pool per buffer size for the whole
// process, so that every Upgrader with the same size shares buffers.
func sharedWriteBuffers(size int) *sync.Pool {
	writePoolsMu.Lock()
	defer writePoolsMu.Unlock()
	p := writePools[size]
	if p == nil {
		p = new(sync.Pool)
		writePools[size] = p
	}
	return p
}

// WithOrigins allows browsers from other origins whose host (with its port,
// if any) matches one of the path.Match patterns: "app.example.com",
// "*.example.com", "localhost:5173"; "*" allows every host. The request's
// own host is always allowed, and so are clients that send no Origin.
// Anything else gets 403 before the upgrade, logged at Debug level with the
// Origin and the patterns. A pattern that is a URL rather than a host
// ("https://app.example.com") or that path.Match cannot parse panics.
func WithOrigins(patterns ...string) Option {
	var clean []string
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		if strings.Contains(p, "://") {
			u, _ := url.Parse(p)
			host := p
			if u != nil && u.Host != "" {
				host = u.Host
			}
			panic(fmt.Sprintf("wsmw: WithOrigins takes host patterns, not URLs: %q (did you mean %q?)", p, host))
		}
		if _, err := path.Match(p, ""); err != nil || p == "" {
			panic(fmt.Sprintf("wsmw: WithOrigins: bad pattern %q", p))
		}
		clean = append(clean, p)
	}
	return upgraderOption{"WithOrigins", func(c *config) { c.origins = append(c.origins, clean...) }}
}

// WithSubprotocols lists the application's subprotocols in order of
// preference; the first one the client offers is selected.
func WithSubprotocols(protocols ...string) Option {
	return upgraderOption{"WithSubprotocols", func(c *config) { c.subprotocols = append(c.subprotocols, protocols...) }}
}

// WithCompression negotiates permessage-deflate when the client offers it.
func WithCompression() Option {
	return upgraderOption{"WithCompression", func(c *config) { c.compression = true }}
}

// WithBufferSizes sets the read buffer of each connection and the size of
// the write buffers, in bytes (1 KiB and 4 KiB by default; [EventHandler]
// lends an 8 KiB read buffer while a message is read, unless this sets
// one). The write buffers are pooled process-wide, a pool per size.
// Neither size may be negative; zero keeps the default.
func WithBufferSizes(read, write int) Option {
	if read < 0 || write < 0 {
		panic(fmt.Sprintf("wsmw: WithBufferSizes(%d, %d): sizes may not be negative", read, write))
	}
	return upgraderOption{"WithBufferSizes", func(c *config) {
		if read > 0 {
			c.readBufferSize = read
			c.readBufferSet = true
		}
		if write > 0 {
			c.writeBufferSize = write
		}
	}}
}

// WithCloseTimeout bounds each connection's close handshake
// (5 s).
func WithCloseTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("wsmw: WithCloseTimeout(%v): must be positive", d))
	}
	return upgraderOption{"WithCloseTimeout", func(c *config) { c.closeTimeout = d }}
}

// WithReadGoroutines makes [EventHandler] read each connection in a
// goroutine of its own, calling the same function: what it does by itself
// where epoll is not available and for TLS connections. For comparisons,
// and for tests of that path.
func WithReadGoroutines() Option {
	return upgraderOption{"WithReadGoroutines", func(c *config) { c.goroutines = true }}
}
