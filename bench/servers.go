package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync/atomic"
	"time"
)

// Options configure a benchmark server.
type Options struct {
	// Ping is the heartbeat interval of the rows that support one (tuned,
	// melody, wsmw, wsmw-full); zero leaves each row at its default (none
	// for tuned and wsmw, 54 s for melody, 20 s for wsmw-full).
	Ping time.Duration
	// PongTimeout is how long a ping may wait for its pong when Ping is set.
	PongTimeout time.Duration
	// Secret is the HS256 key the wsmw-full row verifies tokens with.
	Secret []byte
	// Block makes the wsmw rows' message function block for good (until
	// the process exits) on a message whose first byte is BlockByte, as
	// one waiting on a database that hangs would (the blocked-functions
	// benchmark).
	Block bool
}

// BlockByte starts the messages that block the message function when
// [Options.Block] is set. The echo benchmarks' payloads start with a lower
// case letter.
const BlockByte = 'B'

// blockForever is never closed: a blocked message function waits on it
// until the process exits.
var blockForever = make(chan struct{})

// blocks reports whether msg blocks the message function under o.
func (o Options) blocks(msg []byte) bool { return o.Block && len(msg) > 0 && msg[0] == BlockByte }

// DefaultPongTimeout is the pong timeout used when [Options.PongTimeout] is
// zero.
const DefaultPongTimeout = 10 * time.Second

// Server is one implementation under test: an echo server for text and
// binary messages on any path, with counters the benchmarks read.
type Server struct {
	// Handler serves the WebSocket endpoint behind net/http's server.
	Handler http.Handler
	// Serve, when set instead of Handler, starts the row's own server on
	// ln and returns once it accepts connections: the rows whose library
	// brings its own HTTP server and event loop (nbio's engine, gws's
	// Server). The child process ends it by exiting.
	Serve func(ln net.Listener) error
	// Shutdown closes every connection with 1001 and returns once each has
	// ended; nil for the rows that have no graceful shutdown of their own.
	Shutdown func(ctx context.Context) error

	opened atomic.Int64 // connections upgraded
	closed atomic.Int64 // connections whose handler has finished
	clean  atomic.Int64 // of those, ended by our 1001 with a complete handshake
}

// Counts returns how many connections were opened, how many have ended, and
// how many of those ended with a complete 1001 close handshake (only the
// wsmw rows know the last).
func (s *Server) Counts() (opened, closed, clean int64) {
	return s.opened.Load(), s.closed.Load(), s.clean.Load()
}

// maker builds one implementation.
type maker func(s *Server, o Options) error

var makers = map[string]maker{}

// register adds an implementation under name; each row's file registers
// itself.
func register(name string, m maker) { makers[name] = m }

// Names returns the registered implementations in the order the
// benchmarks show them: the baseline first, then the floor, then the rest.
func Names() []string {
	order := map[string]int{Gorilla: 0, Tuned: 1, Melody: 2, WSMW: 3, WSMWFull: 4, WSMWEvents: 5, WSMWFullEvents: 6, WSMWExampleEvents: 7, Nbio: 8, GWS: 9}
	var out []string
	for n := range makers {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		oi, iok := order[out[i]]
		oj, jok := order[out[j]]
		switch {
		case iok && jok:
			return oi < oj
		case iok != jok:
			return iok
		}
		return out[i] < out[j]
	})
	return out
}

// Row names.
const (
	Gorilla  = "gorilla"   // raw gorilla: default buffers, handler stays in net/http's goroutine
	Tuned    = "tuned"     // the floor: returns after the upgrade, 1 KiB read buffer, pooled write buffers
	Melody   = "melody"    // olahol/melody v1.1.4 with its defaults
	WSMW     = "wsmw"      // wsmw.Handler with no policies
	WSMWFull = "wsmw-full" // wsmw with JWT, session expiry, idle, heartbeat, message rate, size limit

	WSMWEvents     = "wsmw-events"      // wsmw.EventHandler with no policies
	WSMWFullEvents = "wsmw-full-events" // wsmw.EventHandler behind wsmw-full's policies

	// WSMWExampleEvents is the example's /ws in events mode with its
	// default policies ([ExampleStack]). WSMWExampleEvents+"@K" runs the
	// first K of them only; Names does not list those.
	WSMWExampleEvents = "wsmw-example-events"

	Nbio = "nbio" // lesismal/nbio v1.6.8: its non-blocking engine as its maintainers run it
	GWS  = "gws"  // lxzan/gws v1.8.9 with NewServer's defaults
)

// NeedsToken reports whether row name runs the JWT policy (its clients
// send a bearer token).
func NeedsToken(name string) bool {
	if k, ok := examplePrefix(name); ok {
		return exampleNeedsToken(k)
	}
	return name == WSMWFull || name == WSMWFullEvents
}

// NewServer builds the implementation called name.
func NewServer(name string, o Options) (*Server, error) {
	m, ok := makers[name]
	if k, isExample := examplePrefix(name); isExample && !ok {
		m, ok = func(s *Server, o Options) error { return s.serveExample(o, k) }, true
	}
	if !ok {
		return nil, fmt.Errorf("bench: no implementation %q (have %v)", name, Names())
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = DefaultPongTimeout
	}
	s := new(Server)
	if err := m(s, o); err != nil {
		return nil, err
	}
	return s, nil
}
