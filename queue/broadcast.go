package queue

import (
	"net/http"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

type queueKey struct{}

// SlowConsumer gives every connection its own Queue with opts
// ([WithMaxMessages], [WithMaxBytes], [WithOverflow],
// [middleware.WithClose]), used by [Send], [Broadcast] and [Of]. Without
// it, a connection's queue is made with the defaults (256 messages, 1 MiB,
// [OverflowClose], 1008 "slow consumer"). Either way the queue is made on
// first use: a connection that is never sent to holds none.
func SlowConsumer(opts ...middleware.Option) func(http.Handler) http.Handler {
	s := newSettings("SlowConsumer", opts)
	return middleware.Policy(func(c *lifecycle.Conn) error {
		c.LoadOrStore(queueKey{}, &s) // the policy's settings, shared; Of makes the queue
		return nil
	})
}

// defaultSettings are the settings of a queue made without [SlowConsumer].
var defaultSettings = newSettings("Of", nil)

// Of returns c's Queue, making one (with [SlowConsumer]'s settings, or the
// defaults) if c has none yet.
func Of(c *lifecycle.Conn) *Queue {
	v, _ := c.LoadOrStore(queueKey{}, &defaultSettings)
	if q, ok := v.(*Queue); ok {
		return q
	}
	s := v.(*settings)
	q := newQueue(c, *s)
	if actual, _ := connx.SwapValue(c, queueKey{}, s, q).(*Queue); actual != q {
		return actual // another goroutine's, made meanwhile
	}
	q.bind()
	return q
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
