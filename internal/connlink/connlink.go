// Package connlink carries the functions of package lifecycle that its
// sibling packages (the policies, middleware, the modules of this
// repository) use but applications do not: lifecycle sets them in its init,
// and package internal/connx gives them their types. It imports nothing of
// lifecycle's, so that lifecycle can import it; the functions are held as
// any, each with its type noted, and connx asserts them once, at its own
// init (a mismatch fails at start-up, loudly).
package connlink

import (
	"context"
	"log/slog"
	"time"
)

// Config is what lifecycle's accept needs to make a Conn. It is generic so
// that this package need not import lifecycle: lifecycle and connx both
// name Config[lifecycle.Registry, lifecycle.Conn, lifecycle.CloseInfo,
// lifecycle.FrameLimits], one type.
type Config[Registry, Conn, CloseInfo, FrameLimits any] struct {
	// Context is the parent of the Conn's context. Its values are kept;
	// pass a context without cancellation (context.WithoutCancel) when it
	// comes from an http.Request, which net/http cancels when the handler
	// returns.
	Context context.Context
	// CloseTimeout bounds the close handshake; zero means lifecycle's
	// default (5 s).
	CloseTimeout time.Duration
	// Logger receives the Conn's own log lines; nil means slog.Default().
	Logger *slog.Logger
	// FrameLimits bounds the control frames and fragments the peer may
	// send; nil means the defaults. Shared, not copied.
	FrameLimits *FrameLimits
	// Registry, when set, is the Registry the connection joins, under
	// Subject, as a reservation before the 101 is written.
	Registry *Registry
	// Subject names who the connection belongs to.
	Subject string
	// OnClose hooks are added to the Conn as soon as it exists. The Conn
	// keeps the slice (a hook added later copies it): do not change it.
	OnClose []func(*Conn, CloseInfo)
	// Events says that event mode will serve the Conn: its timers wait for
	// it and then run on the event loop's shared runtime timer.
	Events bool
}

// EventBufferSize is the read buffer of an event-mode connection while it
// reads (8 KiB; idle connections hold none).
const EventBufferSize = 8192

// MaxReasonBytes is the longest close reason that fits in a control frame
// with its two-byte code (RFC 6455 §5.5).
const MaxReasonBytes = 123

// The functions lifecycle lends, set by its init. The type of each is
// noted with lifecycle's names.
var (
	Accept           any // func(http.ResponseWriter, *http.Request, *websocket.Upgrader, http.Header, Config[…]) (*Conn, error)
	CloseAsync       any // func(*Conn, error, StatusCode, string) bool
	Abort            any // func(*Conn, error, StatusCode, string) bool
	ServeEvents      any // func(*Conn, func(*Conn, MessageType, []byte), bool) bool
	SetReadLimit     any // func(*Conn, int64)
	ReadLimit        any // func(*Conn) int64
	SetFrameLimits   any // func(*Conn, *FrameLimits)
	SetWriteTimeout  any // func(*Conn, time.Duration)
	AddSubjectCheck  any // func(*Conn, func(*Conn, string) (func(), error))
	OnPong           any // func(*Conn, func(string))
	InboundFrames    any // func(*Conn) uint64
	OutboundMessages any // func(*Conn) uint64
	OutboundBytes    any // func(*Conn) uint64
	OpenedAt         any // func(*Conn) time.Time
	RegistryOf       any // func(*Conn) *Registry
	Draining         any // func(*Registry) bool
	RevocationTTL    any // func(*Registry) time.Duration
	RevokeAt         any // func(*Registry, string, time.Time) int
	SubjectConns     any // func(*Registry, string) []*Conn
	CloseParallelism any // func(int) RegistryOption
	TruncateReason   any // func(string) string
	ConnOf           any // func(context.Context) *Conn
	SwapValue        any // func(*Conn, any, any, any) any
)
