package evpoll

import (
	"bufio"
	"io"
	"sync"
)

// BufferPool lets idle connections give their read buffers back. A
// connection keeps its *bufio.Reader (gorilla holds the pointer) and only
// the buffer behind it comes and goes: Detach when a wake-up has consumed
// every buffered byte, Attach before the next read.
type BufferPool struct {
	size   int
	full   sync.Pool // *bufio.Reader with a buffer
	shells sync.Pool // *bufio.Reader zero values, to move buffers in and out
}

// NewBufferPool returns a pool of size-byte read buffers (at least 16
// bytes, as bufio requires).
func NewBufferPool(size int) *BufferPool {
	size = max(size, 16)
	p := &BufferPool{size: size}
	p.full.New = func() any { return bufio.NewReaderSize(nil, size) }
	p.shells.New = func() any { return new(bufio.Reader) }
	return p
}

// Size is the size of the pool's buffers.
func (p *BufferPool) Size() int { return p.size }

// Attach gives br, which must be detached (or a zero bufio.Reader), a
// buffer from the pool, reading from src.
func (p *BufferPool) Attach(br *bufio.Reader, src io.Reader) {
	r := p.full.Get().(*bufio.Reader)
	*br = *r
	br.Reset(src)
	*r = bufio.Reader{}
	p.shells.Put(r)
}

// Detach returns br's buffer to the pool when nothing is buffered, leaving
// br a zero bufio.Reader that must not be read until Attach; it reports
// false, and leaves br as it is, while bytes are buffered or br's buffer
// is not of the pool's size.
func (p *BufferPool) Detach(br *bufio.Reader) bool {
	if br.Buffered() != 0 || br.Size() != p.size {
		return false
	}
	r := p.shells.Get().(*bufio.Reader)
	*r = *br
	r.Reset(nil)
	*br = bufio.Reader{}
	p.full.Put(r)
	return true
}
