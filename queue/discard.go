package queue

import "github.com/wsmw/wsmw/lifecycle"

// DiscardMessages reads and discards data messages until the connection
// ends, and returns how it ended (a [*lifecycle.CloseError]). gorilla/websocket
// processes pongs and the peer's Close only inside a read, so a handler
// that only writes must keep a read going, or Heartbeat takes the peer for
// dead and a close handshake waits out its timeout. The read checks still
// run on every message, so IdleTimeout and InitTimeout still see them.
//
// The cheapest shape for a push-only endpoint is a handler that is just
// [DiscardMessages], with messages pushed through Send or Broadcast from other
// goroutines: one goroutine per connection, plus a writer only while
// messages are queued.
func DiscardMessages(c *lifecycle.Conn) error {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return err
		}
	}
}
