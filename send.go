package wsmw

import (
	"net/http"

	"github.com/wsmw/wsmw/queue"
)

// Send queues a message on c's send queue and returns without waiting for
// the peer ([queue.Send]). data must not be modified afterwards.
func Send(c *Conn, mt MessageType, data []byte) error { return queue.Send(c, mt, data) }

// Broadcast queues a message to every live connection of reg without
// waiting on any peer, and returns how many accepted it
// ([queue.Broadcast]).
func Broadcast(reg *Registry, mt MessageType, data []byte) int {
	return queue.Broadcast(reg, mt, data)
}

// SlowConsumer sets the bounds of each connection's send queue
// ([queue.WithMaxMessages], [queue.WithMaxBytes]) and what overflow does
// ([queue.WithOverflow]; by default 1008 "slow consumer", cause
// [queue.ErrSlowConsumer]).
func SlowConsumer(opts ...Option) func(http.Handler) http.Handler { return queue.SlowConsumer(opts...) }

// DiscardMessages reads and discards messages until c ends: the read loop
// of a handler that only pushes, so that pongs and Close are processed.
func DiscardMessages(c *Conn) error { return queue.DiscardMessages(c) }
