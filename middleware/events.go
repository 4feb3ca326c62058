package middleware

import (
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

// EventHandler returns the handler of a WebSocket endpoint in event mode:
// like Handler, it upgrades each request behind the policies in front of
// it, but then no goroutine waits on the connection. Readiness comes from
// one epoll instance for the process, and onMessage is called with each
// data message (after the read checks, in order, one at a time per
// connection) on a worker of a pool shared by every event-mode connection.
// An idle connection holds no goroutine and no read buffer: the read
// buffer ([connx.EventBufferSize] unless [WithBufferSizes] says otherwise)
// is lent while a message is read. Every policy, hook and close rule is the
// goroutine mode's.
//
// The connection ends only by a close (a policy's, the peer's, c.Close from
// onMessage or elsewhere, the Registry's); a panic in onMessage closes it
// with 1011 "internal error" (logged). onMessage may block (a database
// call, a write to a peer that does not read, up to timeout.WriteTimeout):
// past a budget of 10 to 20 ms its worker becomes the connection's own
// goroutine until it returns, so it delays only that connection's later
// messages and costs a goroutine while it blocks; send through the
// connection's queue (package queue) to hold none. Where epoll is not
// available, for TLS connections, and with [WithReadGoroutines], each
// connection is read by a goroutine of its own calling the same onMessage.
// It panics when reg or onMessage is nil or an option does not apply.
func EventHandler(reg *lifecycle.Registry, onMessage func(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte), opts ...Option) http.HandlerFunc {
	if onMessage == nil {
		panic("wsmw: nil message function")
	}
	u := NewUpgrader(reg, opts...)
	u.events = !u.cfg.goroutines
	if !u.cfg.readBufferSet {
		u.ws.ReadBufferSize = connx.EventBufferSize
	}
	safe := func(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) {
		defer func() {
			if p := recover(); p != nil {
				u.cfg.logger.Error("wsmw: message function panicked", "panic", p, "stack", string(debug.Stack()))
				connx.CloseAsync(c, fmt.Errorf("%w: %v", lifecycle.ErrHandlerPanic, p), lifecycle.StatusInternalError, "internal error")
			}
		}()
		onMessage(c, mt, data)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := u.Upgrade(w, r)
		if err != nil {
			return
		}
		connx.ServeEvents(c, safe, u.cfg.goroutines)
	}
}
