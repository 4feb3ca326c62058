package lifecycle

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unique"

	"golang.org/x/sys/unix"
)

// An event-mode connection owns its socket, as nbio does: the upgrade
// duplicates the descriptor of Go's *net.TCPConn into the event loop's
// epoll and closes Go's, so Go's runtime poller keeps nothing for it (its
// poll descriptor, two deadline timers and the netFD: some 700 bytes per
// connection). The eventConn is then the net.Conn under the frame guard,
// which gorilla reads and writes through:
//
//   - Reads and writes are system calls on the non-blocking descriptor. A
//     write that finds the socket full waits for room (EPOLLOUT, watched
//     from the first such write on, Poller.WatchWrites) under the write
//     deadline; a read that finds nothing (the close handshake's, a
//     linger's, the goroutine fallback's) waits for bytes under the read
//     deadline. The loop's wake-ups signal the waiting goroutine (ready):
//     nothing waits, and nothing is allocated, for a call that completes
//     at once. The loop itself reads without waiting (readNow).
//   - The descriptor's number is reused by the kernel as soon as it is
//     closed, so no system call may use it after that: use counts the
//     calls in flight beside a closing bit; Close sets the bit (no call
//     starts from then on) and the last call to leave closes the
//     descriptor, which also ends its epoll registration.
//   - Close also takes the connection out of the loop's table and the
//     loop's count, whoever calls it: finish, gorilla when the 101 cannot
//     be written, a forced shutdown.
//
// Where the socket cannot be owned (TLS, other systems, a Conn not made
// for event mode, a failed dup), the Conn keeps Go's net.Conn and is read
// by a goroutine of its own (serveEvents).

// Bits of eventConn.use.
const (
	sockClosing = 1 << 31         // Close was called: no system call starts
	sockCalls   = sockClosing - 1 // system calls in flight
)

// sockWaits is made for a socket the first time a read or a write of it
// must wait; wake-ups post a token to the channel of what they report,
// which makes the waiting goroutine try its call again.
type sockWaits struct {
	read, write chan struct{} // one token each
	watching    atomic.Bool   // writability is watched (Poller.WatchWrites)
}

// ownSocket takes nc's descriptor for the event loop, when nc is a
// *net.TCPConn: it returns the eventConn that owns a duplicate of it,
// registered with the loop's epoll, and closes nc; nil, leaving nc as it
// is, when it cannot.
func ownSocket(nc net.Conn, c *Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok || failDup {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		return nil
	}
	l, err := joinLoop()
	if err != nil {
		unix.Close(fd)
		return nil
	}
	remote := addrPortOf(tc.RemoteAddr())
	ec := &eventConn{fd: int32(fd), loop: l, conn: c, remoteIP: unique.Make(remote.Addr()), remotePort: remote.Port(), local: unique.Make(addrPortOf(tc.LocalAddr()))}
	ec.id = l.add(ec)
	if err := l.poller.Add((*rawSocket)(ec), ec.id); err != nil {
		unix.Close(fd)
		l.drop(ec.id)
		l.leave()
		return nil
	}
	tc.Close() // Go's descriptor; the socket stays open on ours
	return ec
}

// ownedSocket returns c's socket when the loop owns it.
func (c *Conn) ownedSocket() *eventConn {
	ec, _ := c.guard.Conn.(*eventConn)
	return ec
}

// failDup makes ownSocket fail, for tests of the fallback.
var failDup = false

// acquire counts a system call in; it reports false once Close was called.
func (ec *eventConn) acquire() bool {
	for {
		u := ec.use.Load()
		if u&sockClosing != 0 {
			return false
		}
		if ec.use.CompareAndSwap(u, u+1) {
			return true
		}
	}
}

// release counts a system call out; the last one after Close closes the
// descriptor.
func (ec *eventConn) release() {
	if ec.use.Add(^uint32(0)) == sockClosing {
		unix.Close(int(ec.fd))
	}
}

// Close closes the socket: calls in flight finish, calls waiting return
// [net.ErrClosed], and the descriptor is closed when the last call leaves.
// The connection leaves the loop's table and count.
func (ec *eventConn) Close() error {
	u := ec.use.Or(sockClosing)
	if u&sockClosing != 0 {
		return ec.opError("close", net.ErrClosed)
	}
	ec.wakeWaiters()
	if u&sockCalls == 0 {
		unix.Close(int(ec.fd))
	}
	ec.loop.drop(ec.id)
	ec.loop.leave()
	return nil
}

// readNow reads once without waiting: what the socket holds (up to
// len(p)), errWouldBlock when it holds nothing, io.EOF at the end of the
// stream. The loop reads this way.
func (ec *eventConn) readNow(p []byte) (int, error) {
	if !ec.acquire() {
		return 0, ec.opError("read", net.ErrClosed)
	}
	n, err := ignoringEINTR(func() (int, error) { return unix.Read(int(ec.fd), p) })
	ec.release()
	switch {
	case err == unix.EAGAIN:
		return 0, errWouldBlock
	case err != nil:
		return 0, ec.opError("read", os.NewSyscallError("read", err))
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// Read reads, waiting for bytes under the read deadline.
func (ec *eventConn) Read(p []byte) (int, error) {
	for {
		n, err := ec.readNow(p)
		if err != errWouldBlock {
			return n, err
		}
		if err := ec.wait(false); err != nil {
			return 0, err
		}
	}
}

// Write writes all of p, waiting for room under the write deadline.
func (ec *eventConn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		if !ec.acquire() {
			return written, ec.opError("write", net.ErrClosed)
		}
		n, err := ignoringEINTR(func() (int, error) { return unix.Write(int(ec.fd), p[written:]) })
		ec.release()
		written += max(n, 0)
		switch {
		case err == unix.EAGAIN:
			if err := ec.wait(true); err != nil {
				return written, err
			}
		case err != nil:
			return written, ec.opError("write", os.NewSyscallError("write", err))
		}
	}
	return written, nil
}

// wait waits until a wake-up says the socket may be readable (or
// writable), the deadline passes, or the socket is closed. The first wait
// of its kind only sets up the wake-ups and returns, so that the caller
// tries again: whatever came before was missed.
func (ec *eventConn) wait(write bool) error {
	op, dl := "read", &ec.rdl
	if write {
		op, dl = "write", &ec.wdl
	}
	w := ec.waits.Load()
	if w == nil {
		ec.waits.CompareAndSwap(nil, &sockWaits{read: make(chan struct{}, 1), write: make(chan struct{}, 1)})
		w = ec.waits.Load()
		if !write {
			return nil
		}
	}
	ch := w.read
	if write {
		ch = w.write
		if w.watching.CompareAndSwap(false, true) {
			if err := ec.loop.poller.WatchWrites((*rawSocket)(ec), ec.id); err != nil {
				return ec.opError(op, err)
			}
			return nil // try again: room may have come before the watch
		}
	}
	if ec.use.Load()&sockClosing != 0 {
		return ec.opError(op, net.ErrClosed)
	}
	var expired <-chan time.Time
	if d := dl.Load(); d != 0 {
		left := time.Until(time.Unix(0, d))
		if left <= 0 {
			return ec.opError(op, os.ErrDeadlineExceeded)
		}
		t := time.NewTimer(left)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-ch:
	case <-expired:
		// Checked again by the next call: the deadline may have moved.
	}
	return nil
}

// ready posts a token to the waiter of what ev reports, if a read or a
// write ever waited.
func (ec *eventConn) ready(write bool) {
	if w := ec.waits.Load(); w != nil {
		ch := w.read
		if write {
			ch = w.write
		}
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// wakeWaiters makes both waiters look again (the socket closed, was shut
// down, or a deadline moved).
func (ec *eventConn) wakeWaiters() {
	ec.ready(false)
	ec.ready(true)
}

// CloseRead shuts the reading side down: a waiting read returns at once.
func (ec *eventConn) CloseRead() error { return ec.shutdown(unix.SHUT_RD) }

// CloseWrite shuts the writing side down (FIN after what was written): a
// waiting write fails at once.
func (ec *eventConn) CloseWrite() error { return ec.shutdown(unix.SHUT_WR) }

func (ec *eventConn) shutdown(how int) error {
	if !ec.acquire() {
		return ec.opError("shutdown", net.ErrClosed)
	}
	err := unix.Shutdown(int(ec.fd), how)
	ec.release()
	ec.wakeWaiters()
	if err != nil {
		return ec.opError("shutdown", os.NewSyscallError("shutdown", err))
	}
	return nil
}

// SetDeadline sets both deadlines.
func (ec *eventConn) SetDeadline(t time.Time) error {
	ec.SetReadDeadline(t)
	return ec.SetWriteDeadline(t)
}

// SetReadDeadline bounds the reads that wait, from now on and waiting now.
func (ec *eventConn) SetReadDeadline(t time.Time) error {
	ec.rdl.Store(deadlineNanos(t))
	ec.ready(false)
	return nil
}

// SetWriteDeadline bounds the writes that wait, from now on and waiting
// now.
func (ec *eventConn) SetWriteDeadline(t time.Time) error {
	ec.wdl.Store(deadlineNanos(t))
	ec.ready(true)
	return nil
}

func deadlineNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixNano(), 1)
}

// RemoteAddr returns the peer's address (made at each call: the socket
// keeps it compactly).
func (ec *eventConn) RemoteAddr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ec.remoteIP.Value(), ec.remotePort))
}

// LocalAddr returns the local address (made at each call).
func (ec *eventConn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(ec.local.Value()) }

func (ec *eventConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: ec.LocalAddr(), Addr: ec.RemoteAddr(), Err: err}
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

func ignoringEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// rawSocket is the owned socket as the [syscall.RawConn] that the poller's
// epoll_ctl calls use: each runs as a counted system call.
type rawSocket eventConn

// Control calls f with the descriptor, which cannot be closed meanwhile.
func (r *rawSocket) Control(f func(fd uintptr)) error {
	ec := (*eventConn)(r)
	if !ec.acquire() {
		return net.ErrClosed
	}
	f(uintptr(ec.fd))
	ec.release()
	return nil
}

// Read calls f with the descriptor until it returns true, waiting for
// bytes in between.
func (r *rawSocket) Read(f func(fd uintptr) bool) error { return r.call(f, false) }

// Write calls f with the descriptor until it returns true, waiting for
// room in between.
func (r *rawSocket) Write(f func(fd uintptr) bool) error { return r.call(f, true) }

func (r *rawSocket) call(f func(fd uintptr) bool, write bool) error {
	ec := (*eventConn)(r)
	for {
		if !ec.acquire() {
			return net.ErrClosed
		}
		done := f(uintptr(ec.fd))
		ec.release()
		if done {
			return nil
		}
		if err := ec.wait(write); err != nil {
			return err
		}
	}
}

var _ syscall.RawConn = (*rawSocket)(nil)
