package queue

import (
	"net/http"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

type queueKey struct{}

// SlowConsumer gives every connection its own Queue with opts
// ([WithMaxMessages], [WithMaxBytes], [WithOverflow],
// [middleware.WithClose]), used by [Send], [Broadcast] and [Of]. Without
// it, a connection's queue is made with the defaults (256 messages, 1 MiB,
// [OverflowClose], 1008 "slow consumer") on first use.
func SlowConsumer(opts ...middleware.Option) func(http.Handler) http.Handler {
	s := newSettings("SlowConsumer", opts)
	return middleware.Policy(func(c *lifecycle.Conn) error {
		c.LoadOrStore(queueKey{}, newQueue(c, s))
		return nil
	})
}

// Of returns c's Queue, making one with the defaults if c has none yet.
func Of(c *lifecycle.Conn) *Queue {
	if q, ok := c.Value(queueKey{}).(*Queue); ok {
		return q
	}
	q, _ := c.LoadOrStore(queueKey{}, newQueue(c, newSettings("Of", nil)))
	return q.(*Queue)
}

// Send queues a message on c's Queue and returns without waiting for the
// peer; see [Queue.Send].
func Send(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) error {
	return Of(c).Send(mt, data)
}

// Broadcast queues one message to every live connection of reg and returns
// how many accepted it. It never waits on a peer: a slow one overflows its
// own queue and is closed (or has messages dropped) while the others carry
// on. data is shared by all the queues and must not be modified afterwards.
//
// To send to some of the connections, range over them and [Send]:
//
//	reg.Range(func(c *lifecycle.Conn) bool {
//		if inRoom(c, room) {
//			queue.Send(c, mt, data)
//		}
//		return true
//	})
func Broadcast(reg *lifecycle.Registry, mt lifecycle.MessageType, data []byte) int {
	n := 0
	reg.Range(func(c *lifecycle.Conn) bool {
		if Send(c, mt, data) == nil {
			n++
		}
		return true
	})
	return n
}
