package lifecycle

import (
	"bufio"
	"math/bits"
	"sync"

	"github.com/wsmw/wsmw/internal/evpoll"
)

// An event-mode connection's read buffer comes and goes: it is lent from a
// pool of the connection's size while bytes are buffered, and given back
// when none are (an idle connection holds none). Part of a message left
// buffered at the end of a second turn moves to a buffer its size, from a
// pool of smaller buffers (partialBufferSize), so that a peer trickling a
// message holds what it sent, not a whole buffer; a message larger than
// the buffer grows it, twice its size each time it fills (or as far as the
// message needs), bounded by the read limit (scanRules), and the grown
// buffer goes to the garbage collector once the message is read. Moving
// copies the buffered bytes once, through connReader (partial.carry):
// bufio.Reader cannot be given bytes any other way.

var (
	bufsMu   sync.Mutex
	bufPools = map[int]*evpoll.BufferPool{}
)

// eventReadBuffers returns the pool of event-mode read buffers of size bytes.
// The upgrade takes a Conn's first buffer from it (see hijacker), and the
// loop lends and takes back the buffer as the connection wakes and idles.
func eventReadBuffers(size int) *evpoll.BufferPool {
	bufsMu.Lock()
	defer bufsMu.Unlock()
	p := bufPools[size]
	if p == nil {
		p = evpoll.NewBufferPool(size)
		bufPools[size] = p
	}
	return p
}

// minPartialBuffer is the smallest buffer part of a message waits in.
const minPartialBuffer = 512

// partialBufferSize is the buffer that n bytes of an unfinished message
// wait in: a power of two, at least twice n.
func partialBufferSize(n int) int {
	return max(minPartialBuffer, 1<<bits.Len(uint(2*n-1)))
}

// buffersOf returns the pool of buffers of size bytes, for sizes up to
// the connection's own; nil above it (a buffer grown for a large message).
func (ec *eventConn) buffersOf(size int) *evpoll.BufferPool {
	switch {
	case size == ec.bufs.Size():
		return ec.bufs
	case size < ec.bufs.Size():
		return eventReadBuffers(size)
	}
	return nil
}

// releaseBuffer gives c's read buffer, which holds nothing, back to its
// pool.
func (c *Conn) releaseBuffer(ec *eventConn) {
	if size := ec.br.Size(); size > 0 {
		if p := ec.buffersOf(size); p != nil {
			p.Detach(ec.br)
		} else {
			*ec.br = bufio.Reader{}
		}
	}
}

// dropBuffer gives c's read buffer back for good: c has left the loop,
// and what the buffer holds will never be read. Only c's server calls it.
func (c *Conn) dropBuffer(ec *eventConn) {
	if ec.br.Size() > 0 {
		ec.br.Discard(ec.br.Buffered())
		c.releaseBuffer(ec)
	}
}

// growBuffer gives c a larger read buffer: an unfinished message fills it.
// Twice its size, as far as the message needs (partial.need), and from a grown
// partial buffer back to the connection's own size first.
func (c *Conn) growBuffer(ec *eventConn) {
	size := ec.br.Size()
	next := 2 * size
	if need := ec.partial().need; need > int64(size) && need < int64(next) {
		next = int(need)
	}
	if own := ec.bufs.Size(); size < own {
		next = min(next, own)
	}
	c.moveBuffer(ec, next)
}

// moveBuffer moves the bytes c's read buffer holds into a buffer of size
// bytes (from its pool, or a new one above the connection's size) and
// gives the old one back.
func (c *Conn) moveBuffer(ec *eventConn, size int) {
	n := ec.br.Buffered()
	var nb bufio.Reader
	if p := ec.buffersOf(size); p != nil {
		p.Attach(&nb, (*connReader)(c))
	} else {
		nb = *bufio.NewReaderSize((*connReader)(c), size)
	}
	pt := ec.partial()
	pt.carry, _ = ec.br.Peek(n)
	nb.Peek(n) // reads the carried bytes
	pt.carry = nil
	ec.br.Discard(n)
	c.releaseBuffer(ec)
	*ec.br = nb
}
