package conntest

import (
	"net/http"
	"testing"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// Mode is a way to serve an endpoint's connections: the goroutine mode
// (middleware.Handler, a read loop per connection) or the event mode
// ([middleware.EventHandler]).
type Mode struct {
	Name   string
	Events bool
}

// The read modes, and both of them for tests that must hold in each.
var (
	Goroutines = Mode{"goroutine", false}
	Events     = Mode{"events", true}
	Modes      = []Mode{Goroutines, Events}
)

// Handler returns the endpoint's handler in mode m: onMessage is called
// with each data message, from a ReadMessage loop in the goroutine
// Handler runs (goroutine mode, 1000 when the loop ends on its own), or
// by EventHandler's loop.
func (m Mode) Handler(reg *lifecycle.Registry, onMessage func(*lifecycle.Conn, lifecycle.MessageType, []byte), opts ...middleware.Option) http.HandlerFunc {
	if m.Events {
		return middleware.EventHandler(reg, onMessage, opts...)
	}
	return middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		for {
			mt, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			onMessage(c, mt, data)
		}
	}, opts...)
}

// EchoMessage writes a message back: an echo server's message function.
func EchoMessage(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) { c.WriteMessage(mt, data) }

// DiscardMessage drops a message: the message function of a server that
// only reads.
func DiscardMessage(*lifecycle.Conn, lifecycle.MessageType, []byte) {}

// EachMode runs f in a subtest per read mode, named by the mode.
func EachMode(t *testing.T, f func(t *testing.T, mode Mode)) {
	t.Helper()
	for _, m := range Modes {
		t.Run(m.Name, func(t *testing.T) { f(t, m) })
	}
}
