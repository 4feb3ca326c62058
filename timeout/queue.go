package timeout

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/wsmw/wsmw/lifecycle"
)

// Default bounds of a SendQueue.
const (
	// DefaultQueueMessages bounds the messages a SendQueue holds: a peer
	// more than 256 messages behind is not keeping up with a chat- or
	// feed-like stream.
	DefaultQueueMessages = 256
	// DefaultQueueBytes bounds the bytes a SendQueue holds (1 MiB): with
	// the default read limit of 1 MiB one largest message always fits,
	// and ten thousand stuck peers cost at most 10 GiB in the worst case
	// rather than everything.
	DefaultQueueBytes = 1 << 20
)

// Overflow says what a SendQueue does with a message that does not fit.
type Overflow int

const (
	// OverflowClose closes the connection with 1008 "slow consumer" (cause
	// ErrSlowConsumer) and frees the queue. The default.
	OverflowClose Overflow = iota
	// OverflowDropNewest drops the message being sent.
	OverflowDropNewest
	// OverflowDropOldest drops the oldest queued messages to make room,
	// like Spring's ConcurrentWebSocketSessionDecorator DROP strategy.
	OverflowDropOldest
)

// MaxMessages bounds the messages a SendQueue holds, the one being written
// included (DefaultQueueMessages unless set).
func MaxMessages(n int) Option { return func(o *options) { o.maxMessages = n } }

// MaxBytes bounds the payload bytes a SendQueue holds, the message being
// written included (DefaultQueueBytes unless set). A message larger than
// the bound never fits.
func MaxBytes(n int) Option { return func(o *options) { o.maxBytes = n } }

// OnOverflow chooses what a SendQueue does when a message does not fit.
func OnOverflow(v Overflow) Option { return func(o *options) { o.overflow = v } }

// SendQueue is a non-blocking, bounded send path for one connection. Send
// queues a message and returns at once; a writer goroutine, started when
// the queue receives a message and ended when it is empty, writes the
// messages in order with Conn.WriteMessage (bounded by WriteTimeout). A
// peer that does not keep up overflows the bounds, and the queue then
// closes the connection with 1008 "slow consumer" or drops messages (see
// OnOverflow). Memory per connection is bounded by MaxBytes; an idle queue
// holds no goroutine and no buffer.
//
// Use one SendQueue per connection for all its writes; a message written
// directly with WriteMessage may overtake queued ones.
type SendQueue struct {
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
	idle    *idleState
	looked  bool // idle was looked up (policies attach before any Send)
}

type queued struct {
	mt   lifecycle.MessageType
	data []byte
}

// shrinkCap is the largest backing array kept once the queue drains.
const shrinkCap = 8

// NewSendQueue returns a SendQueue for c. Options: MaxMessages, MaxBytes,
// OnOverflow, and WithCode and WithReason for the overflow close. Most
// code uses the connection's own queue through Send, Broadcast or the
// SlowConsumer policy instead.
func NewSendQueue(c *lifecycle.Conn, opts ...Option) *SendQueue {
	o := newOptions(lifecycle.StatusPolicyViolation, ReasonSlowConsumer, opts)
	q := &SendQueue{
		c:        c,
		maxMsgs:  o.maxMessages,
		maxBytes: o.maxBytes,
		overflow: o.overflow,
		code:     o.code,
		reason:   o.reason,
	}
	if q.maxMsgs <= 0 {
		q.maxMsgs = DefaultQueueMessages
	}
	if q.maxBytes <= 0 {
		q.maxBytes = DefaultQueueBytes
	}
	c.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) { q.release() })
	return q
}

// Send queues data for writing and returns without waiting for the peer.
// The queue keeps data until it is written: do not modify it afterwards
// (the same slice may go to many queues). Send returns the connection's
// *CloseError once it is closing, and ErrSlowConsumer when the message did
// not fit and was dropped or the connection is being closed for it.
func (q *SendQueue) Send(mt lifecycle.MessageType, data []byte) error {
	if q.c.Closing() {
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
	if !q.looked {
		q.idle, _ = q.c.Value(idleKey{}).(*idleState)
		q.looked = true
	}
	if !q.running {
		q.running = true
		go q.run(q.idle)
	}
	q.mu.Unlock()
	return nil
}

// makeRoom drops the oldest queued messages until n bytes fit, when the
// overflow strategy allows it; q.mu is held.
func (q *SendQueue) makeRoom(n int) bool {
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
func (q *SendQueue) overflowed() error {
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
	q.c.CloseAsync(ErrSlowConsumer, q.code, q.reason)
	return ErrSlowConsumer
}

// run is the writer goroutine: it writes until the queue is empty, then
// exits.
func (q *SendQueue) run(idle *idleState) {
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
		if err == nil && idle != nil {
			idle.touch() // IdleTimeout with CountOutbound
		}
	}
}

// dropQueued forgets every message not yet taken by the writer and lets a
// large backing array go; q.mu is held.
func (q *SendQueue) dropQueued() {
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
func (q *SendQueue) release() {
	q.mu.Lock()
	if q.closed == nil {
		q.closed = q.closeCause()
	}
	q.dropQueued()
	q.mu.Unlock()
}

// errClosing stands in for the connection's *CloseError in the instant
// between closing starting and its context being cancelled.
var errClosing = errors.New("timeout: connection is closing")

// closeCause returns the connection's *CloseError once closing started.
func (q *SendQueue) closeCause() error {
	if err := context.Cause(q.c.Context()); err != nil {
		return err
	}
	return errClosing
}

// Len returns the messages and payload bytes the queue holds, the one
// being written included.
func (q *SendQueue) Len() (messages, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.msgs, q.bytes
}

// Dropped returns how many messages the queue has refused or dropped.
func (q *SendQueue) Dropped() uint64 { return q.dropped.Load() }
