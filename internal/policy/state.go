package policy

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/lifecycle"
)

// ErrAttachmentPanic is the cause of the close (1011 "internal error") of
// a connection whose attachment panicked ([RunAttachment]). The otel module
// counts it among the server's failures.
var ErrAttachmentPanic = lifecycle.NewCause("attachment_panic", "wsmw: attachment panicked")

// State is what the policies of one upgrade request leave for the
// Upgrader: the attachments in order, the checks to run before the
// handshake, the OnClose hooks, the subject, the fallback subprotocol and
// a few context values. The first policy puts it in the request's context
// (one allocation and one request copy per request, however many policies
// run); the others add to it. It is the context value itself.
//
// Policies run one after another on the request's goroutine, so only
// conn, which the Upgrader sets and OnClose hooks may read from anywhere,
// is atomic. The attachments and hooks are dropped once the connection
// exists ([State.Upgraded]).
type State struct {
	context.Context
	steps    []Step
	checks   []UpgradeCheck                               // BeforeUpgrade's, run by the Upgrader before the handshake
	check1   [1]UpgradeCheck                              // checks' first backing array: one check allocates nothing more
	hooks    []func(*lifecycle.Conn, lifecycle.CloseInfo) // OnClose hooks, added when the Conn is made
	conn     atomic.Pointer[lifecycle.Conn]
	subject  string
	pending  bool       // the subject will be set on the connection later (WithSubjectPending)
	fallback string     // subprotocol to select when the application's don't match
	values   []keyValue // for the request and the connection (WithValue)
	local    []keyValue // for the request only (WithRequestValue)
}

// Step is one function to run on a new connection: an attachment, or an
// OnOpen hook, which runs after every attachment.
type Step struct {
	Fn     func(*lifecycle.Conn) error
	OnOpen bool
}

type keyValue struct{ key, value any }

// lookup returns the value of key in values.
func lookup(values []keyValue, key any) (any, bool) {
	for i := range values {
		if values[i].key == key {
			return values[i].value, true
		}
	}
	return nil, false
}

type stateKey struct{}

// Value answers for the state and its values, and asks the parent
// otherwise.
func (s *State) Value(key any) any {
	if key == (stateKey{}) {
		return s
	}
	if v, ok := lookup(s.values, key); ok {
		return v
	}
	if v, ok := lookup(s.local, key); ok {
		return v
	}
	return s.Context.Value(key)
}

// StateOf returns the state that ctx (a request's context) carries, nil
// when no policy left one.
func StateOf(ctx context.Context) *State {
	s, _ := ctx.Value(stateKey{}).(*State)
	return s
}

// state returns r's state, giving r one first when it has none.
func state(r *http.Request) (*State, *http.Request) {
	if s := StateOf(r.Context()); s != nil {
		return s, r
	}
	s := &State{Context: r.Context()}
	return s, r.WithContext(s)
}

func push(r *http.Request, fn func(*lifecycle.Conn) error, onOpen bool) *http.Request {
	s, r := state(r)
	if s.steps == nil {
		s.steps = make([]Step, 0, 16) // the example's stack adds eleven
	}
	s.steps = append(s.steps, Step{Fn: fn, OnOpen: onOpen})
	return r
}

// IsUpgrade reports whether r asks for a WebSocket upgrade. Policies call
// next unchanged when it is false.
func IsUpgrade(r *http.Request) bool { return websocket.IsWebSocketUpgrade(r) }

// Attach returns r with fn added to the attachments that run after the
// upgrade, after those already attached (outer middleware first), before
// the handler. An error closes the connection (a [*lifecycle.CloseError]
// chooses the code; anything else is 1011) and the handler does not run.
// The attachments belong to the request: r, the request returned and every
// request derived from either share them. Call it before passing the
// request on, from the request's goroutine; so for every function of this
// file that takes a request.
func Attach(r *http.Request, fn func(*lifecycle.Conn) error) *http.Request {
	return push(r, fn, false)
}

// AddOnOpen returns r with fn added to the functions that run on the new
// connection after every attachment, right before the handler.
func AddOnOpen(r *http.Request, fn func(*lifecycle.Conn)) *http.Request {
	return push(r, func(c *lifecycle.Conn) error { fn(c); return nil }, true)
}

// WithValue returns r whose context, and later the connection's
// (Conn.Context), carries val under key.
func WithValue(r *http.Request, key, val any) *http.Request {
	s, r := state(r)
	s.values = setValue(s.values, key, val)
	return r
}

// WithRequestValue returns r whose context carries val under key, for
// the request only: the connection's context does not (see
// [ConnContext]). A policy whose connection finds the value among the
// Conn's own (Conn.LoadOrStore, which Conn.Context answers with too) sets
// it this way, so that the connection keeps it once.
func WithRequestValue(r *http.Request, key, val any) *http.Request {
	s, r := state(r)
	s.local = setValue(s.local, key, val)
	return r
}

// setValue sets key's value in values, replacing the one it had, and
// returns the list.
func setValue(values []keyValue, key, val any) []keyValue {
	for i := range values {
		if values[i].key == key {
			values[i].value = val
			return values
		}
	}
	return append(values, keyValue{key, val})
}

// AddCloseHook returns r with hook added to the OnClose hooks of the
// connection that r may become, added to the Conn as soon as it exists.
func AddCloseHook(r *http.Request, hook func(*lifecycle.Conn, lifecycle.CloseInfo)) *http.Request {
	s, r := state(r)
	s.hooks = append(s.hooks, hook)
	return r
}

// WithFallbackSubprotocol returns r marked so that, when none of the
// application's subprotocols matches the client's offer, proto is selected
// if the client offered it. The auth policy uses it for "bearer", so that a
// token carried in Sec-WebSocket-Protocol is never echoed back.
func WithFallbackSubprotocol(r *http.Request, proto string) *http.Request {
	s, r := state(r)
	s.fallback = proto
	return r
}

// Fallback returns the subprotocol of [WithFallbackSubprotocol], "" for none.
func (s *State) Fallback() string { return s.fallback }

// Subject returns the subject of [WithSubject].
func (s *State) Subject() string { return s.subject }

// Hooks returns the OnClose hooks of [AddCloseHook], in order.
func (s *State) Hooks() []func(*lifecycle.Conn, lifecycle.CloseInfo) { return s.hooks }

// Upgraded records c as the connection made from the request and returns
// the steps to run on it, which the state no longer keeps (nor the hooks,
// which c has).
func (s *State) Upgraded(c *lifecycle.Conn) []Step {
	s.conn.Store(c)
	steps := s.steps
	s.steps, s.hooks = nil, nil
	return steps
}

// UpgradedConn returns the connection made from r (as passed down a policy
// chain), or nil before or without an upgrade.
func UpgradedConn(r *http.Request) *lifecycle.Conn {
	if s := StateOf(r.Context()); s != nil {
		return s.conn.Load()
	}
	return nil
}

// RunAttachment runs fn on c, turning a panic into an error that wraps
// [ErrAttachmentPanic].
func RunAttachment(c *lifecycle.Conn, fn func(*lifecycle.Conn) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrAttachmentPanic, p)
		}
	}()
	return fn(c)
}
