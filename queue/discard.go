package queue

import "github.com/wsmw/wsmw/lifecycle"

// DiscardMessages reads and discards data messages until the connection
// ends, and returns how it ended (a *lifecycle.CloseError). gorilla/websocket
// processes pongs and the peer's Close only inside a read, so a handler
// that only writes must keep a read going, or Heartbeat takes the peer for
// dead and a close handshake waits out its timeout. The read checks still
// run on every message, so IdleTimeout and InitTimeout still see them.
//
// The cheapest shape for a push-only endpoint is a handler that is just
// DiscardMessages, with messages pushed through Send or Broadcast from other
// goroutines: one goroutine per connection, plus a writer only while
// messages are queued.
func DiscardMessages(c *lifecycle.Conn) error {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return err
		}
	}
}

// WriteOnly wraps a handler that never reads: it runs DiscardMessages in a
// second goroutine for the connection's lifetime, so that pongs and the
// peer's Close are processed, then runs fn. The reader ends with the
// connection.
func WriteOnly(fn func(*lifecycle.Conn)) func(*lifecycle.Conn) {
	return func(c *lifecycle.Conn) {
		go DiscardMessages(c)
		fn(c)
	}
}
