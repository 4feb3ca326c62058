// Package conntest holds test helpers that need a lifecycle.Conn. They
// cannot live in wstest, which lifecycle's own internal tests import.
package conntest

import "github.com/wsmw/wsmw/lifecycle"

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
