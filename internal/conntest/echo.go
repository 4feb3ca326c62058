// Package conntest holds test helpers that need a lifecycle.Conn. They
// cannot live in wstest, which lifecycle's own internal tests import.
package conntest

import (
	"net/http"

	"github.com/wsmw/wsmw/lifecycle"
)

// Echo writes back every data message until the connection ends.
func Echo(c *lifecycle.Conn) {
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if c.WriteMessage(mt, msg) != nil {
			return
		}
	}
}

// Serve adapts a connection function that does not need the upgrade
// request to a Handler's function.
func Serve(fn func(*lifecycle.Conn)) func(*lifecycle.Conn, *http.Request) {
	return func(c *lifecycle.Conn, _ *http.Request) { fn(c) }
}
