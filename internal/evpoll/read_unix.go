//go:build unix

package evpoll

import (
	"io"
	"sync"
	"syscall"
)

// ReadNonblock reads once from the connection of rc into p without ever
// waiting: what the socket holds now (up to len(p)), [ErrWouldBlock] when it
// holds nothing, io.EOF when the peer has closed its side. The descriptor
// is held by rc.Read for the call, so it cannot be closed and reused under
// it. An edge-triggered handler ([WithEdgeTriggered]) reads this way: a read
// shorter than p means the socket was drained when it ran.
func ReadNonblock(rc syscall.RawConn, p []byte) (int, error) {
	r := reads.Get().(*readCall)
	r.p = p
	err := rc.Read(r.fn)
	n, rerr := r.n, r.err
	r.p, r.n, r.err = nil, 0, nil
	reads.Put(r)
	switch {
	case err != nil:
		return 0, err
	case rerr == syscall.EAGAIN:
		return 0, ErrWouldBlock
	case rerr != nil:
		return 0, rerr
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// readCall is one read, pooled with its function bound so that passing it
// to RawConn.Read allocates nothing.
type readCall struct {
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

var reads = sync.Pool{New: func() any {
	r := new(readCall)
	r.fn = r.run
	return r
}}

// run reads once; returning true tells RawConn.Read not to wait.
func (r *readCall) run(fd uintptr) bool {
	for {
		n, err := syscall.Read(int(fd), r.p)
		if err == syscall.EINTR {
			continue
		}
		r.n, r.err = max(n, 0), err
		return true
	}
}
