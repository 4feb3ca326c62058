package middleware

import (
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults for the upgrader. A 1 KiB read buffer and pooled write buffers
// halve a connection's idle memory against gorilla's defaults.
const (
	DefaultReadBufferSize   = 1024
	DefaultWriteBufferSize  = 4096
	DefaultHandshakeTimeout = 10 * time.Second
)

// Option configures an Upgrader.
type Option func(*config)

type config struct {
	origins          []string
	anyOrigin        bool
	subprotocols     []string
	compression      bool
	readBufferSize   int
	writeBufferSize  int
	writeBufferPool  websocket.BufferPool
	handshakeTimeout time.Duration
	closeTimeout     time.Duration
	readLimit        int64
	logger           *slog.Logger
}

func newConfig(opts []Option) config {
	cfg := config{
		readBufferSize:   DefaultReadBufferSize,
		writeBufferSize:  DefaultWriteBufferSize,
		handshakeTimeout: DefaultHandshakeTimeout,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.writeBufferPool == nil {
		cfg.writeBufferPool = sharedWriteBuffers(cfg.writeBufferSize)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
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

// WithOrigins allows browsers from other origins whose host matches one of
// the path.Match patterns ("*.example.com", "localhost:5173"). The request's
// own host is always allowed, and so are clients that send no Origin.
// Anything else gets 403 before the upgrade.
func WithOrigins(patterns ...string) Option {
	return func(c *config) { c.origins = append(c.origins, patterns...) }
}

// WithAnyOrigin turns the Origin check off. Only for endpoints that
// authenticate every connection without cookies.
func WithAnyOrigin() Option { return func(c *config) { c.anyOrigin = true } }

// WithSubprotocols lists the application's subprotocols in order of
// preference; the first one the client offers is selected.
func WithSubprotocols(protocols ...string) Option {
	return func(c *config) { c.subprotocols = append(c.subprotocols, protocols...) }
}

// WithCompression negotiates permessage-deflate when the client offers it.
func WithCompression(enabled bool) Option { return func(c *config) { c.compression = enabled } }

// WithBufferSizes sets gorilla's read and write buffer sizes in bytes.
func WithBufferSizes(read, write int) Option {
	return func(c *config) {
		if read > 0 {
			c.readBufferSize = read
		}
		if write > 0 {
			c.writeBufferSize = write
		}
	}
}

// WithWriteBufferPool sets the pool of write buffers (a process-wide
// sync.Pool per size by default).
func WithWriteBufferPool(p websocket.BufferPool) Option {
	return func(c *config) { c.writeBufferPool = p }
}

// WithHandshakeTimeout bounds the upgrade's response write.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) { c.handshakeTimeout = d }
}

// WithCloseTimeout bounds each connection's close handshake (5 s by
// default).
func WithCloseTimeout(d time.Duration) Option { return func(c *config) { c.closeTimeout = d } }

// WithReadLimit sets the default largest message, in bytes (1 MiB unless
// set; the MaxMessageSize policy overrides it per route).
func WithReadLimit(n int64) Option { return func(c *config) { c.readLimit = n } }

// WithLogger sets the logger for handler panics and the connections' own
// log lines.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }
