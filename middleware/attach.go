package middleware

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/lifecycle"
)

// Attachment runs on a connection right after the upgrade, before the
// handler, and installs what a policy needs through the Conn's extension
// API. An error closes the connection (a *lifecycle.CloseError chooses the
// code; anything else is 1011) and the handler does not run.
type Attachment func(c *lifecycle.Conn) error

// requestState is what the policies of one upgrade request leave for
// Upgrade: the attachments in order, the checks to run before the
// handshake, the subject, the fallback subprotocol and a few context
// values. The first policy puts it in the request's
// context (one allocation and one request copy per request, however many
// policies run); the others add to it. It is the context value itself, so
// after the upgrade a connection's context holds one node for all of it.
//
// Policies run one after another on the request's goroutine, so only conn,
// which Upgrade sets and OnClose hooks may read from anywhere, is atomic.
// The list of attachments is dropped once they have run.
type requestState struct {
	context.Context
	steps    []step
	checks   []UpgradeCheck                               // BeforeUpgrade's, run by Upgrade before the handshake
	check1   [1]UpgradeCheck                              // checks' first backing array: one check allocates nothing more
	hooks    []func(*lifecycle.Conn, lifecycle.CloseInfo) // OnClose hooks, added when the Conn is made
	conn     atomic.Pointer[lifecycle.Conn]
	subject  string
	pending  bool   // the subject will be set on the connection later (WithSubjectPending)
	fallback string // subprotocol to select when the application's don't match
	values   []keyValue
}

type step struct {
	fn     Attachment
	onOpen bool // runs after every attachment
}

type keyValue struct{ key, value any }

type ctxKey struct{}

// Value answers for the request state and its values, and asks the parent
// otherwise.
func (s *requestState) Value(key any) any {
	if key == (ctxKey{}) {
		return s
	}
	for i := range s.values {
		if s.values[i].key == key {
			return s.values[i].value
		}
	}
	return s.Context.Value(key)
}

func stateOf(ctx context.Context) *requestState {
	s, _ := ctx.Value(ctxKey{}).(*requestState)
	return s
}

// state returns r's state, giving r one first when it has none.
func state(r *http.Request) (*requestState, *http.Request) {
	if s := stateOf(r.Context()); s != nil {
		return s, r
	}
	s := &requestState{Context: r.Context()}
	return s, r.WithContext(s)
}

func push(r *http.Request, fn Attachment, onOpen bool) *http.Request {
	s, r := state(r)
	if s.steps == nil {
		s.steps = make([]step, 0, 8) // a full policy stack adds about six
	}
	s.steps = append(s.steps, step{fn: fn, onOpen: onOpen})
	return r
}

// Attach returns r with fn added to the attachments that run after the
// upgrade, after those already attached (outer middleware first). The
// attachments belong to the request: r, the request returned and every
// request derived from either share them. Call it before passing the
// request on, from the request's goroutine.
func Attach(r *http.Request, fn Attachment) *http.Request { return push(r, fn, false) }

// WithValue returns r whose context, and later the connection's
// (Conn.Context), carries val under key, like context.WithValue but
// without copying the request again when a policy already gave it wsmw's
// state. Like Attach, it changes the state that r and the request returned
// share; call it from the request's goroutine before passing r on. key
// must be comparable and should be of an unexported type.
func WithValue(r *http.Request, key, val any) *http.Request {
	s, r := state(r)
	for i := range s.values {
		if s.values[i].key == key {
			s.values[i].value = val
			return r
		}
	}
	s.values = append(s.values, keyValue{key, val})
	return r
}

// AddCloseHook returns r with hook added to the OnClose hooks of the
// connection that r may become. The hooks are added to the Conn as soon as
// it exists, before its Registry, attachments or handler can end it, so
// they run exactly once for every connection that got a 101, however it
// ends (even when an attachment refuses it); for a request that is never
// upgraded they never run. Like Attach, it changes the state that r and the
// request returned share; call it before passing r on.
func AddCloseHook(r *http.Request, hook func(*lifecycle.Conn, lifecycle.CloseInfo)) *http.Request {
	s, r := state(r)
	s.hooks = append(s.hooks, hook)
	return r
}

// Conn returns the connection made from r (as passed down a policy chain),
// or nil before or without an upgrade. A policy that reserves something
// before the upgrade, such as a connection slot, looks at it after
// next.ServeHTTP returns: nil means no 101 was sent, so release the
// reservation at once; otherwise the connection exists, and the OnClose
// hook the policy added with AddCloseHook releases it, exactly once,
// however the connection ends.
func Conn(r *http.Request) *lifecycle.Conn {
	if s := stateOf(r.Context()); s != nil {
		return s.conn.Load()
	}
	return nil
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

// IsUpgrade reports whether r asks for a WebSocket upgrade. Policies call
// next unchanged when it is false.
func IsUpgrade(r *http.Request) bool { return websocket.IsWebSocketUpgrade(r) }

// Policy returns a middleware that attaches fn to every upgrade request.
func Policy(fn Attachment) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if IsUpgrade(r) {
				r = Attach(r, fn)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// OnOpen returns a middleware whose fn runs on each new connection after
// every attachment, right before the handler.
func OnOpen(fn func(*lifecycle.Conn)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if IsUpgrade(r) {
				r = push(r, func(c *lifecycle.Conn) error { fn(c); return nil }, true)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// OnClose returns a middleware that adds fn as an OnClose hook of each
// connection: it runs exactly once, after TCP is closed, with the true
// cause, for every connection that got a 101, even one that an attachment
// or the Registry refused.
func OnClose(fn func(*lifecycle.Conn, lifecycle.CloseInfo)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if IsUpgrade(r) {
				r = AddCloseHook(r, fn)
			}
			next.ServeHTTP(w, r)
		})
	}
}
