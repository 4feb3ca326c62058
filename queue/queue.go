package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/timeout"
)

// Default bounds of a Queue.
const (
	// defaultMaxMessages bounds the messages a Queue holds: a peer more
	// than 256 messages behind is not keeping up with a chat- or feed-like
	// stream.
	defaultMaxMessages = 256
	// defaultMaxBytes bounds the bytes a Queue holds (1 MiB): with the
	// default read limit of 1 MiB one largest message always fits, and ten
	// thousand stuck peers cost at most 10 GiB in the worst case rather
	// than everything.
	defaultMaxBytes = 1 << 20
)

// ErrSlowConsumer is the cause of the close, 1008 "slow consumer", of a
// connection whose Queue overflowed its bounds; Send also returns it for a
// message that did not fit.
var ErrSlowConsumer = lifecycle.NewCause("slow_consumer", "slow consumer")

// Overflow says what a Queue does with a message that does not fit.
type Overflow int

const (
	// OverflowClose closes the connection with 1008 "slow consumer" (cause
	// [ErrSlowConsumer]) and frees the queue. The default.
	OverflowClose Overflow = iota
	// OverflowDropNewest drops the message being sent.
	OverflowDropNewest
	// OverflowDropOldest drops the oldest queued messages to make room,
	// like Spring's ConcurrentWebSocketSessionDecorator DROP strategy.
	OverflowDropOldest
)

// queueOption is an option of New and [SlowConsumer].
type queueOption struct {
	name  string
	apply func(*settings)
}

func (o queueOption) OptionName() string { return o.name }

type settings struct {
	maxMsgs  int
	maxBytes int
	overflow Overflow
	code     lifecycle.StatusCode
	reason   string
}

// WithMaxMessages bounds the messages a Queue holds, the one being written
// included (256 by default: a peer that far behind is not keeping up with
// a chat- or feed-like stream). n must be positive.
func WithMaxMessages(n int) middleware.Option {
	if n <= 0 {
		panic(fmt.Sprintf("wsmw: WithMaxMessages(%d): must be positive", n))
	}
	return queueOption{"WithMaxMessages", func(s *settings) { s.maxMsgs = n }}
}

// WithMaxBytes bounds the payload bytes a Queue holds, the message being
// written included (1 MiB by default: a message as large as the default
// read limit fits, and ten thousand stuck peers cost at most 10 GiB). A
// message larger than the bound never fits. n must be positive.
func WithMaxBytes(n int) middleware.Option {
	if n <= 0 {
		panic(fmt.Sprintf("wsmw: WithMaxBytes(%d): must be positive", n))
	}
	return queueOption{"WithMaxBytes", func(s *settings) { s.maxBytes = n }}
}

// WithOverflow chooses what a Queue does when a message does not fit
// ([OverflowClose] unless set).
func WithOverflow(v Overflow) middleware.Option {
	if v < OverflowClose || v > OverflowDropOldest {
		panic(fmt.Sprintf("wsmw: WithOverflow(%d): not an Overflow", v))
	}
	return queueOption{"WithOverflow", func(s *settings) { s.overflow = v }}
}

// newSettings reads the options of constructor: [WithMaxMessages],
// [WithMaxBytes], [WithOverflow] and [middleware.WithClose] (the overflow's
// close, 1008 "slow consumer" by default).
func newSettings(constructor string, opts []middleware.Option) settings {
	s := settings{maxMsgs: defaultMaxMessages, maxBytes: defaultMaxBytes, code: lifecycle.StatusPolicyViolation, reason: "slow consumer"}
	policy.ApplyOptions(constructor, opts, func(o middleware.Option) bool {
		switch o := o.(type) {
		case queueOption:
			o.apply(&s)
		case policy.CloseOption:
			s.code, s.reason = o.Code, o.Reason
		default:
			return false
		}
		return true
	})
	return s
}

// Queue is a non-blocking, bounded send path for one connection. Send
// queues a message and returns at once; a writer goroutine, started when
// the queue receives a message and ended when it is empty, writes the
// messages in order with Conn.WriteMessage (bounded by WriteTimeout). A
// peer that does not keep up overflows the bounds, and the queue then
// closes the connection with 1008 "slow consumer" or drops messages (see
// [WithOverflow]). Memory per connection is bounded by [WithMaxBytes]; an idle
// queue holds no goroutine and no buffer.
//
// Use one Queue per connection for all its writes; a message written
// directly with WriteMessage may overtake queued ones.
type Queue struct {
	c        *lifecycle.Conn
	maxMsgs  int
	maxBytes int
	overflow Overflow
	code     lifecycle.StatusCode
	reason   string
	dropped  atomic.Uint64

	mu      sync.Mutex
	items   []queued // items[head:] wait to be written
	head    int
	msgs    int // queued plus the one being written
	bytes   int
	running bool  // the writer goroutine is on
	closed  error // set once the queue refuses messages
}

type queued struct {
	mt   lifecycle.MessageType
	data []byte
}

// shrinkCap is the largest backing array kept once the queue drains.
const shrinkCap = 8

// newQueue returns a Queue for c with settings s.
func newQueue(c *lifecycle.Conn, s settings) *Queue {
	q := &Queue{
		c:        c,
		maxMsgs:  s.maxMsgs,
		maxBytes: s.maxBytes,
		overflow: s.overflow,
		code:     s.code,
		reason:   s.reason,
	}
	return q
}

// bind ties q to its connection's end, once q is the connection's queue.
func (q *Queue) bind() {
	q.c.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) { q.release() })
}

// Send queues data for writing and returns without waiting for the peer.
// The queue keeps data until it is written: do not modify it afterwards
// (the same slice may go to many queues). Send returns the connection's
// *CloseError once it is closing, and [ErrSlowConsumer] when the message did
// not fit and was dropped or the connection is being closed for it.
func (q *Queue) Send(mt lifecycle.MessageType, data []byte) error {
	if q.c.Err() != nil {
		return q.closeCause()
	}
	n := len(data)
	q.mu.Lock()
	if q.closed != nil {
		err := q.closed
		q.mu.Unlock()
		return err
	}
	if q.msgs+1 > q.maxMsgs || q.bytes+n > q.maxBytes {
		if !q.makeRoom(n) {
			return q.overflowed() // unlocks
		}
	}
	if len(q.items) == cap(q.items) && q.head > 0 {
		// Compact instead of growing past the dead prefix.
		k := copy(q.items, q.items[q.head:])
		clear(q.items[k:])
		q.items = q.items[:k]
		q.head = 0
	}
	q.items = append(q.items, queued{mt, data})
	q.msgs++
	q.bytes += n
	if !q.running {
		q.running = true
		go q.run()
	}
	q.mu.Unlock()
	return nil
}

// makeRoom drops the oldest queued messages until n bytes fit, when the
// overflow strategy allows it; q.mu is held.
func (q *Queue) makeRoom(n int) bool {
	if q.overflow != OverflowDropOldest {
		return false
	}
	for q.head < len(q.items) && (q.msgs+1 > q.maxMsgs || q.bytes+n > q.maxBytes) {
		old := q.items[q.head]
		q.items[q.head] = queued{}
		q.head++
		q.msgs--
		q.bytes -= len(old.data)
		q.dropped.Add(1)
	}
	return q.msgs+1 <= q.maxMsgs && q.bytes+n <= q.maxBytes
}

// overflowed handles a message that does not fit; q.mu is held and is
// released.
func (q *Queue) overflowed() error {
	q.dropped.Add(1)
	if q.overflow != OverflowClose {
		q.mu.Unlock()
		return ErrSlowConsumer
	}
	q.closed = ErrSlowConsumer
	q.dropQueued()
	q.mu.Unlock()
	// The cause wins now, so a handler that returns on this error cannot
	// beat it with its own 1000; the frame waits for the stuck writer in
	// another goroutine, and Send does not.
	connx.CloseAsync(q.c, ErrSlowConsumer, q.code, q.reason)
	return ErrSlowConsumer
}

// run is the writer goroutine: it writes until the queue is empty, then
// exits.
func (q *Queue) run() {
	for {
		q.mu.Lock()
		if q.head == len(q.items) || q.closed != nil {
			q.dropQueued()
			q.running = false
			q.mu.Unlock()
			return
		}
		m := q.items[q.head]
		q.items[q.head] = queued{}
		q.head++
		q.mu.Unlock()

		err := q.c.WriteMessage(m.mt, m.data)

		q.mu.Lock()
		q.msgs--
		q.bytes -= len(m.data)
		if err != nil && q.closed == nil {
			q.closed = err
		}
		q.mu.Unlock()
		if err == nil {
			timeout.Touch(q.c) // IdleTimeout with WithCountOutbound
		}
	}
}

// dropQueued forgets every message not yet taken by the writer and lets a
// large backing array go; q.mu is held.
func (q *Queue) dropQueued() {
	for i := q.head; i < len(q.items); i++ {
		q.msgs--
		q.bytes -= len(q.items[i].data)
	}
	if cap(q.items) > shrinkCap {
		q.items = nil
	} else {
		clear(q.items)
		q.items = q.items[:0]
	}
	q.head = 0
}

// release runs when the connection has ended.
func (q *Queue) release() {
	q.mu.Lock()
	if q.closed == nil {
		q.closed = q.closeCause()
	}
	q.dropQueued()
	q.mu.Unlock()
}

// errClosing stands in for the connection's *CloseError in the instant
// between closing starting and its context being cancelled.
var errClosing = errors.New("queue: connection is closing")

// closeCause returns the connection's *CloseError once closing started.
func (q *Queue) closeCause() error {
	if err := context.Cause(q.c.Context()); err != nil {
		return err
	}
	return errClosing
}

// Len returns the messages and payload bytes the queue holds, the one
// being written included.
func (q *Queue) Len() (messages, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.msgs, q.bytes
}

// Dropped returns how many messages the queue has refused or dropped.
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }
