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

// requestState is shared by every attachment node of one request; it is
// the only mutable part.
type requestState struct {
	conn                atomic.Pointer[lifecycle.Conn]
	fallbackSubprotocol atomic.Pointer[string]
}

// node is one attachment in an immutable list, and the context value that
// carries it: adding one never changes what a parent request's context
// sees, and costs one allocation.
type node struct {
	context.Context
	fn     Attachment
	prev   *node
	state  *requestState
	onOpen bool
}

type ctxKey struct{}

// Value returns the node itself for ctxKey and asks the parent otherwise.
func (n *node) Value(key any) any {
	if key == (ctxKey{}) {
		return n
	}
	return n.Context.Value(key)
}

func head(r *http.Request) *node {
	n, _ := r.Context().Value(ctxKey{}).(*node)
	return n
}

func push(r *http.Request, fn Attachment, onOpen bool) *http.Request {
	prev := head(r)
	n := &node{Context: r.Context(), fn: fn, onOpen: onOpen, prev: prev}
	if prev != nil {
		n.state = prev.state
	} else {
		n.state = new(requestState)
	}
	return r.WithContext(n)
}

// state returns the request's shared state, adding an empty node when the
// request has none yet.
func state(r *http.Request) (*requestState, *http.Request) {
	if n := head(r); n != nil {
		return n.state, r
	}
	r = push(r, nil, false)
	return head(r).state, r
}

// Attach returns r with fn added to the attachments that run after the
// upgrade, after those already attached (outer middleware first).
func Attach(r *http.Request, fn Attachment) *http.Request { return push(r, fn, false) }

// attachments returns the list in the order it was attached.
func attachments(r *http.Request) (attach, onOpen []Attachment, st *requestState) {
	n := head(r)
	if n == nil {
		return nil, nil, nil
	}
	st = n.state
	count := 0
	for m := n; m != nil; m = m.prev {
		count++
	}
	attach = make([]Attachment, 0, count)
	for ; n != nil; n = n.prev {
		switch {
		case n.fn == nil:
		case n.onOpen:
			onOpen = append(onOpen, n.fn)
		default:
			attach = append(attach, n.fn)
		}
	}
	reverse(attach)
	reverse(onOpen)
	return attach, onOpen, st
}

func reverse(s []Attachment) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// Upgraded reports whether a connection was made from r (as passed down a
// policy chain). A policy that reserves something before the upgrade, such
// as a connection slot, calls it after next.ServeHTTP returns: when it is
// false, release the reservation at once; when it is true, release it from
// an OnClose hook of Conn(r). Register that hook on Conn(r) itself, not only
// from your attachment: the connection can be made and then closed before
// your attachment runs (the Registry refused it while draining, or an
// earlier attachment failed), and OnClose on an ended Conn runs at once.
func Upgraded(r *http.Request) bool { return Conn(r) != nil }

// Conn returns the connection made from r, or nil before or without a
// successful upgrade.
func Conn(r *http.Request) *lifecycle.Conn {
	if n := head(r); n != nil {
		return n.state.conn.Load()
	}
	return nil
}

// WithFallbackSubprotocol returns r marked so that, when none of the
// application's subprotocols matches the client's offer, proto is selected
// if the client offered it. The auth policy uses it for "bearer", so that a
// token carried in Sec-WebSocket-Protocol is never echoed back.
func WithFallbackSubprotocol(r *http.Request, proto string) *http.Request {
	st, r := state(r)
	st.fallbackSubprotocol.Store(&proto)
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
// cause.
func OnClose(fn func(*lifecycle.Conn, lifecycle.CloseInfo)) func(http.Handler) http.Handler {
	return Policy(func(c *lifecycle.Conn) error {
		c.OnClose(fn)
		return nil
	})
}
