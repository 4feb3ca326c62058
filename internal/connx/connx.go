// Package connx is what the packages beside lifecycle (the policies,
// middleware, and this repository's modules) use of a Conn or a Registry
// that applications do not: making a Conn, the policies' settings, closes
// that must not wait, the counters the idle timeout and the metrics read,
// and the Registry's revocation memory. Package lifecycle lends these
// functions through internal/connlink; this package gives them their
// types, once, at init.
package connx

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/connlink"
	"github.com/wsmw/wsmw/lifecycle"
)

// Config configures a Conn made by Accept.
type Config = connlink.Config[lifecycle.Registry, lifecycle.Conn, lifecycle.CloseInfo, lifecycle.FrameLimits]

// SubjectCheck is consulted by Conn.SetSubject before the subject is set:
// nil lets it be set, an error refuses it (SetSubject returns that error).
// A check that took something for the subject (a connection slot) returns
// undo, which gives it back and is called when a later check refuses the
// same SetSubject; nil undo when there is nothing to give back. Whatever a
// check keeps must also be given back when the connection ends (an OnClose
// hook): undo is not called then. Checks run on SetSubject's goroutine, one
// SetSubject of the connection at a time, also when subject is the current
// one or ""; a check must not call SetSubject; it may block briefly.
type SubjectCheck = func(c *lifecycle.Conn, subject string) (undo func(), err error)

// EventBufferSize is an event-mode connection's read buffer while it reads.
const EventBufferSize = connlink.EventBufferSize

var (
	accept           = connlink.Accept.(func(http.ResponseWriter, *http.Request, *websocket.Upgrader, http.Header, Config) (*lifecycle.Conn, error))
	closeAsync       = connlink.CloseAsync.(func(*lifecycle.Conn, error, lifecycle.StatusCode, string) bool)
	abort            = connlink.Abort.(func(*lifecycle.Conn, error, lifecycle.StatusCode, string) bool)
	serveEvents      = connlink.ServeEvents.(func(*lifecycle.Conn, func(*lifecycle.Conn, lifecycle.MessageType, []byte), bool) bool)
	setReadLimit     = connlink.SetReadLimit.(func(*lifecycle.Conn, int64))
	readLimit        = connlink.ReadLimit.(func(*lifecycle.Conn) int64)
	setFrameLimits   = connlink.SetFrameLimits.(func(*lifecycle.Conn, *lifecycle.FrameLimits))
	setWriteTimeout  = connlink.SetWriteTimeout.(func(*lifecycle.Conn, time.Duration))
	addSubjectCheck  = connlink.AddSubjectCheck.(func(*lifecycle.Conn, func(*lifecycle.Conn, string) (func(), error)))
	onPong           = connlink.OnPong.(func(*lifecycle.Conn, func(string)))
	inboundFrames    = connlink.InboundFrames.(func(*lifecycle.Conn) uint64)
	outboundMessages = connlink.OutboundMessages.(func(*lifecycle.Conn) uint64)
	outboundBytes    = connlink.OutboundBytes.(func(*lifecycle.Conn) uint64)
	openedAt         = connlink.OpenedAt.(func(*lifecycle.Conn) time.Time)
	registryOf       = connlink.RegistryOf.(func(*lifecycle.Conn) *lifecycle.Registry)
	draining         = connlink.Draining.(func(*lifecycle.Registry) bool)
	revocationTTL    = connlink.RevocationTTL.(func(*lifecycle.Registry) time.Duration)
	revokeAt         = connlink.RevokeAt.(func(*lifecycle.Registry, string, time.Time) int)
	subjectConns     = connlink.SubjectConns.(func(*lifecycle.Registry, string) []*lifecycle.Conn)
	closeParallel    = connlink.CloseParallelism.(func(int) lifecycle.RegistryOption)
	truncateReason   = connlink.TruncateReason.(func(string) string)
	connOf           = connlink.ConnOf.(func(context.Context) *lifecycle.Conn)
	swapValue        = connlink.SwapValue.(func(*lifecycle.Conn, any, any, any) any)
)

// Accept upgrades r with u and returns the Conn that manages the new
// connection; it is the only way to make a Conn. The Conn owns its read
// buffer (u.ReadBufferSize bytes) and sits under gorilla's reader, where it
// sees every frame the peer sends. With cfg.Registry set, the connection
// joins it before the 101 is written, as a reservation under cfg.Subject
// that Registry.Revoke reaches; when the Registry is draining, or revoked
// cfg.Subject during the handshake, the Conn is returned already closing
// (1001 or 1008) with the error that says why. cfg.OnClose hooks are added
// before anything can end the Conn. When the handshake fails, gorilla has
// answered r and Accept returns its error and no Conn.
func Accept(w http.ResponseWriter, r *http.Request, u *websocket.Upgrader, responseHeader http.Header, cfg Config) (*lifecycle.Conn, error) {
	return accept(w, r, u, responseHeader, cfg)
}

// CloseAsync is CloseWith that never waits: the cause wins (or loses) at
// once, and the Close frame and the handshake are carried out in a new
// goroutine, for callers that must not block (a send queue that overflows
// while a write to the same peer is stuck; a connection's own reader). It
// reports whether this cause won.
func CloseAsync(c *lifecycle.Conn, cause error, code lifecycle.StatusCode, reason string) bool {
	return closeAsync(c, cause, code, reason)
}

// Abort ends c without waiting for the peer: a best-effort Close frame with
// code and reason (none when code is not Sendable) under a short deadline,
// TCP closed, the end reported as abnormal, 1006, with reason and cause —
// for peers that are gone, such as a missed heartbeat. It reports whether
// it won.
func Abort(c *lifecycle.Conn, cause error, code lifecycle.StatusCode, reason string) bool {
	return abort(c, cause, code, reason)
}

// ServeEvents serves c in event mode (see middleware.EventHandler), or from
// a goroutine of its own where event mode is not available or goroutines
// is true; it reports whether c is served by events.
func ServeEvents(c *lifecycle.Conn, onMessage func(*lifecycle.Conn, lifecycle.MessageType, []byte), goroutines bool) bool {
	return serveEvents(c, onMessage, goroutines)
}

// SetReadLimit sets the largest data message c accepts, in bytes (1 MiB
// unless set); a larger one closes with 1009. Negative means no limit; zero
// the default. Call it before the handler starts reading.
func SetReadLimit(c *lifecycle.Conn, n int64) { setReadLimit(c, n) }

// ReadLimit returns c's read limit in bytes, negative for none.
func ReadLimit(c *lifecycle.Conn) int64 { return readLimit(c) }

// SetFrameLimits sets the budgets of control frames and fragments c's peer
// may send; l is shared, not copied. Call it before the handler reads.
func SetFrameLimits(c *lifecycle.Conn, l *lifecycle.FrameLimits) { setFrameLimits(c, l) }

// SetWriteTimeout bounds every data write of c; zero means no bound. A
// write that times out ends the connection (cause [lifecycle.ErrWriteTimeout]).
func SetWriteTimeout(c *lifecycle.Conn, d time.Duration) { setWriteTimeout(c, d) }

// AddSubjectCheck adds check to those that c's SetSubject consults, after
// the ones already added. A nil check panics.
func AddSubjectCheck(c *lifecycle.Conn, check SubjectCheck) { addSubjectCheck(c, check) }

// OnPong adds a function called with each pong's application data, inside
// the reader. Call it before the handler starts reading.
func OnPong(c *lifecycle.Conn, f func(appData string)) { onPong(c, f) }

// InboundFrames counts the frames read from c's peer so far: data
// messages, pings, pongs and Close. A policy compares two readings to learn
// whether anything arrived in between.
func InboundFrames(c *lifecycle.Conn) uint64 { return inboundFrames(c) }

// OutboundMessages counts the data messages written (or being written) on
// c so far.
func OutboundMessages(c *lifecycle.Conn) uint64 { return outboundMessages(c) }

// OutboundBytes counts the payload bytes of the data messages written (or
// being written) on c so far.
func OutboundBytes(c *lifecycle.Conn) uint64 { return outboundBytes(c) }

// OpenedAt returns when c was made, as its handshake began.
func OpenedAt(c *lifecycle.Conn) time.Time { return openedAt(c) }

// RegistryOf returns the Registry c joined, nil for none.
func RegistryOf(c *lifecycle.Conn) *lifecycle.Registry { return registryOf(c) }

// Draining reports whether reg refuses new connections (Shutdown began).
func Draining(reg *lifecycle.Registry) bool { return draining(reg) }

// RevocationTTL returns how long reg remembers a revocation.
func RevocationTTL(reg *lifecycle.Registry) time.Duration { return revocationTTL(reg) }

// RevokeAt is Registry.Revoke for a revocation made at a given time, such
// as one received from another server: it closes subject's connections
// opened before at, including those whose handshake is under way, and
// remembers at. It returns how many of subject's connections end revoked.
func RevokeAt(reg *lifecycle.Registry, subject string, at time.Time) int {
	return revokeAt(reg, subject, at)
}

// SubjectConns returns reg's live connections of subject.
func SubjectConns(reg *lifecycle.Registry, subject string) []*lifecycle.Conn {
	return subjectConns(reg, subject)
}

// WithCloseParallelism sets how many Close frames a Registry writes at once
// when it closes many connections (Shutdown, CloseIf, Revoke); the default
// is 16 per CPU.
func WithCloseParallelism(n int) lifecycle.RegistryOption { return closeParallel(n) }

// TruncateReason returns reason as valid UTF-8 of at most
// [lifecycle.MaxReasonBytes] bytes, cut at a rune boundary.
func TruncateReason(reason string) string { return truncateReason(reason) }

// ConnOf returns the Conn whose context (Conn.Context) ctx is or derives
// from, nil for none.
func ConnOf(ctx context.Context) *lifecycle.Conn { return connOf(ctx) }

// SwapValue replaces c's value under key (Conn.LoadOrStore) by new if it
// is old, and returns the value under key afterwards: new when it swapped,
// nil when key has none. A policy that stores its shared settings at the
// upgrade makes its per-connection state on first use this way.
func SwapValue(c *lifecycle.Conn, key, old, new any) (actual any) { return swapValue(c, key, old, new) }
