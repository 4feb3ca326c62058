package timeout

import (
	"net/http"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

type queueKey struct{}

// SlowConsumer gives every connection its own SendQueue with opts
// (MaxMessages, MaxBytes, OnOverflow, WithCode, WithReason), used by Send,
// Broadcast and QueueOf. Without it, a connection's queue is made with the
// defaults on first use.
func SlowConsumer(opts ...Option) func(http.Handler) http.Handler {
	return middleware.Policy(func(c *lifecycle.Conn) error {
		c.SetValue(queueKey{}, NewSendQueue(c, opts...))
		return nil
	})
}

// QueueOf returns c's SendQueue, making one with the defaults if c has none
// yet.
func QueueOf(c *lifecycle.Conn) *SendQueue {
	if q, ok := c.Value(queueKey{}).(*SendQueue); ok {
		return q
	}
	createMu.Lock()
	defer createMu.Unlock()
	if q, ok := c.Value(queueKey{}).(*SendQueue); ok {
		return q
	}
	q := NewSendQueue(c)
	c.SetValue(queueKey{}, q)
	return q
}

// Send queues a message on c's SendQueue and returns without waiting for
// the peer; see SendQueue.Send.
func Send(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) error {
	return QueueOf(c).Send(mt, data)
}

// Broadcast queues one message to every live connection of reg and returns
// how many accepted it. It never waits on a peer: a slow one overflows its
// own queue and is closed (or has messages dropped) while the others carry
// on. data is shared by all the queues and must not be modified afterwards.
func Broadcast(reg *lifecycle.Registry, mt lifecycle.MessageType, data []byte) int {
	return BroadcastIf(reg, nil, mt, data)
}

// BroadcastIf is Broadcast to the connections for which pred returns true
// (all of them when pred is nil).
func BroadcastIf(reg *lifecycle.Registry, pred func(*lifecycle.Conn) bool, mt lifecycle.MessageType, data []byte) int {
	n := 0
	reg.Range(func(c *lifecycle.Conn) bool {
		if (pred == nil || pred(c)) && Send(c, mt, data) == nil {
			n++
		}
		return true
	})
	return n
}
