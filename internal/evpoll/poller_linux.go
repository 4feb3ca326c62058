//go:build linux

package evpoll

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Supported reports whether this system has a Poller (Linux: true).
const Supported = true

// interest is what a registration waits for. EPOLLERR and EPOLLHUP are
// always reported. Level-triggered plus EPOLLONESHOT: a connection that is
// readable when it is re-armed wakes again at once, so no wake-up is lost,
// and each wake-up is delivered to one worker only. With [WithEdgeTriggered],
// edgeInterest instead.
const (
	interest     = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT
	edgeInterest = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET
)

// Poller waits for many connections to become readable with one epoll
// instance and queues each wake-up to a Pool at High priority, where it
// calls the handler with the connection's id and Events.
//
// A registration is one-shot: after a wake-up the connection is disarmed
// until Rearm, so one connection's handler never runs twice at once for
// one wake-up. Every epoll_ctl call runs inside the connection's
// [syscall.RawConn.Control], so the descriptor cannot be closed (and its
// number reused) under it; the event carries the caller's id, never the
// descriptor. Call Remove before closing a connection. A wake-up may have
// been queued just before Remove, so the handler can see an id that is no
// longer registered; ids must therefore not be reused.
//
// What a goroutine writes before Add or Rearm happens before the handler
// call for the wake-up that follows: a handler sees the connection's state
// as the code that armed it left it.
//
// The epoll descriptor itself is non-blocking and waited on through Go's
// runtime poller ([os.NewFile]), drained with epoll_wait(timeout 0): no
// thread is blocked in epoll_wait.
type Poller struct {
	handler func(id uint64, ev Events)
	pool    *Pool
	ownPool bool

	file *os.File
	raw  syscall.RawConn // file's
	epfd int             // file's descriptor, for epoll_ctl under ctlMu

	// ctlMu guards epfd against Close: epoll_ctl runs under the read lock
	// and only while closed is false; Close takes the write lock to set it
	// before closing the file, so the number cannot be reused under a call.
	ctlMu  sync.RWMutex
	closed bool
	calls  sync.Pool // *ctlCall

	// published orders memory for the handler: every Add and Rearm bumps
	// it before epoll_ctl, and the loop reads it after epoll_wait. What
	// goes through the kernel is no happens-before edge in Go's memory
	// model (nor for the race detector); this atomic pair is.
	published atomic.Uint64

	batch     int
	interest  uint32
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	failed atomic.Pointer[error] // why the loop stopped, other than Close

	registered atomic.Int64
	wakes      atomic.Uint64
	events     atomic.Uint64
	dropped    atomic.Uint64
}

// New starts a Poller that calls handler on a pool worker for each
// wake-up. The handler should read what it can without blocking and then
// Rearm or Remove the connection; it may run on any worker.
func New(handler func(id uint64, ev Events), opts ...Option) (*Poller, error) {
	if handler == nil {
		return nil, errors.New("evpoll: nil handler")
	}
	o := buildOptions(opts)
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("evpoll: epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("evpoll: set non-blocking: %w", err)
	}
	// A non-blocking descriptor given to os.NewFile is registered with
	// the runtime poller, so waiting on it parks a goroutine, not a thread.
	file := os.NewFile(uintptr(epfd), "evpoll-epoll")
	// A file the runtime poller could not take has no deadlines.
	if err := file.SetReadDeadline(time.Time{}); err != nil {
		file.Close()
		return nil, fmt.Errorf("evpoll: the epoll descriptor is not pollable: %w", err)
	}
	raw, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("evpoll: %w", err)
	}
	p := &Poller{
		handler:  handler,
		file:     file,
		raw:      raw,
		epfd:     epfd,
		batch:    o.batch,
		interest: interest,
		done:     make(chan struct{}),
	}
	if o.edge {
		p.interest = edgeInterest
	}
	p.calls.New = func() any {
		c := &ctlCall{p: p}
		c.fn = c.run
		return c
	}
	if o.pool != nil {
		p.pool = o.pool
	} else {
		p.pool, p.ownPool = NewPool(o.poolCfg), true
	}
	go p.loop()
	return p, nil
}

// Pool returns the pool the Poller queues its wake-ups on. Other work
// (heartbeat pings at Low, say) can be submitted to it.
func (p *Poller) Pool() *Pool { return p.pool }

func (p *Poller) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, p.batch)
	var werr error
	// RawRead calls wait until it returns true, parking in the runtime
	// poller (until the epoll descriptor is readable) whenever it returns
	// false. Dispatching inside it and parking after a short batch is
	// safe: an event that comes after epoll_wait makes the descriptor
	// readable, and the runtime keeps that readiness for the park that
	// follows. Only a full batch calls for another epoll_wait first.
	wait := func(fd uintptr) bool {
		for {
			n, err := unix.EpollWait(int(fd), events, 0)
			switch {
			case err == unix.EINTR:
				continue
			case err != nil:
				werr = err
				return true
			case n == 0:
				return false
			}
			p.wakes.Add(1)
			p.published.Load() // see published
			for i := range events[:n] {
				ev := &events[i]
				if p.pool.submitEvent(p.handler, getID(ev), toEvents(ev.Events)) != nil {
					p.dropped.Add(1)
				} else {
					p.events.Add(1)
				}
			}
			clear(events[:n])
			if n < len(events) {
				return false
			}
		}
	}
	if err := p.raw.Read(wait); err != nil {
		return // the file was closed
	}
	// epoll_wait on our own descriptor fails only if it is broken; there
	// is nothing left to wait on. Add and Rearm report it from now on.
	err := fmt.Errorf("evpoll: epoll_wait: %w", werr)
	p.failed.Store(&err)
}

// setID and getID store the caller's 64-bit id in epoll_data. The two
// int32 halves are Fd and Pad on every Linux architecture (arm64 has its
// padding in a field of its own), and what goes in comes back out the
// same, whatever the byte order.
func setID(ev *unix.EpollEvent, id uint64) {
	ev.Fd = int32(uint32(id))
	ev.Pad = int32(uint32(id >> 32))
}

func getID(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

func toEvents(e uint32) Events {
	var ev Events
	if e&unix.EPOLLIN != 0 {
		ev |= Readable
	}
	if e&unix.EPOLLRDHUP != 0 {
		ev |= PeerClosed
	}
	if e&unix.EPOLLHUP != 0 {
		ev |= Hangup
	}
	if e&unix.EPOLLERR != 0 {
		ev |= Error
	}
	if e&unix.EPOLLOUT != 0 {
		ev |= Writable
	}
	return ev
}

// ctlCall is one epoll_ctl call, pooled with its function bound so that
// passing it to RawConn.Control allocates nothing.
type ctlCall struct {
	p      *Poller
	op     int
	events uint32
	id     uint64
	err    error
	fn     func(fd uintptr)
}

func (c *ctlCall) run(fd uintptr) {
	ev := unix.EpollEvent{Events: c.events}
	setID(&ev, c.id)
	c.err = unix.EpollCtl(c.p.epfd, c.op, int(fd), &ev)
}

// ctl runs epoll_ctl with the connection's descriptor held by rc.Control
// and the epoll descriptor held by ctlMu: neither can be closed and reused
// while the call runs. It returns [ErrClosed] once the Poller is closed.
func (p *Poller) ctl(rc syscall.RawConn, op int, events uint32, id uint64) error {
	if err := p.failed.Load(); err != nil && op != unix.EPOLL_CTL_DEL {
		return *err
	}
	p.ctlMu.RLock()
	defer p.ctlMu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	if op != unix.EPOLL_CTL_DEL {
		p.published.Add(1) // see published
	}
	c := p.calls.Get().(*ctlCall)
	c.op, c.events, c.id, c.err = op, events, id, nil
	if err := rc.Control(c.fn); err != nil {
		p.calls.Put(c)
		return fmt.Errorf("evpoll: connection: %w", err)
	}
	err := c.err
	p.calls.Put(c)
	return err
}

// Add registers a connection under id and arms it: the handler is called
// once when it is readable (or hung up, or in error). rc is the
// connection's [syscall.RawConn] (from SyscallConn). Adding a connection
// that is already registered fails.
func (p *Poller) Add(rc syscall.RawConn, id uint64) error {
	if err := p.ctl(rc, unix.EPOLL_CTL_ADD, p.interest, id); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return errors.New("evpoll: connection already registered")
		}
		return err
	}
	p.registered.Add(1)
	return nil
}

// Rearm re-enables a registered connection after a wake-up, under the same
// or a new id. If it is readable already, the handler runs again at once,
// possibly on another worker before Rearm returns: make Rearm the last
// thing a handler does with the connection. It returns [ErrNotRegistered]
// after Remove and [ErrClosed] after Close.
func (p *Poller) Rearm(rc syscall.RawConn, id uint64) error {
	err := p.ctl(rc, unix.EPOLL_CTL_MOD, p.interest, id)
	if errors.Is(err, unix.ENOENT) {
		return ErrNotRegistered
	}
	return err
}

// WatchWrites makes a registered connection report [Writable] too, under
// the same or a new id: for a writer that found the socket full and waits
// for room. With [WithEdgeTriggered] the registration stays so (a wake-up
// comes each time room is made after a write found none); otherwise it
// also re-arms, as Rearm does. It returns [ErrNotRegistered] after Remove
// and [ErrClosed] after Close.
func (p *Poller) WatchWrites(rc syscall.RawConn, id uint64) error {
	err := p.ctl(rc, unix.EPOLL_CTL_MOD, p.interest|unix.EPOLLOUT, id)
	if errors.Is(err, unix.ENOENT) {
		return ErrNotRegistered
	}
	return err
}

// Remove unregisters a connection; call it before closing the connection.
// No wake-up is produced for it afterwards, though one queued before may
// still reach the handler. Removing a connection that is not registered,
// or after Close (which drops every registration), returns nil; removing
// one already closed fails (closing it dropped the registration, unless
// its descriptor was duplicated).
func (p *Poller) Remove(rc syscall.RawConn) error {
	err := p.ctl(rc, unix.EPOLL_CTL_DEL, 0, 0)
	switch {
	case err == nil:
		p.registered.Add(-1)
		return nil
	case errors.Is(err, unix.ENOENT), errors.Is(err, ErrClosed):
		return nil
	}
	return err
}

// Stats returns a snapshot of the Poller's counters.
func (p *Poller) Stats() PollerStats {
	return PollerStats{
		Registered: int(p.registered.Load()),
		Wakes:      p.wakes.Load(),
		Events:     p.events.Load(),
		Dropped:    p.dropped.Load(),
	}
}

// Close stops the Poller: it closes the epoll instance (which drops every
// registration), waits for its goroutine, and, if the pool is its own,
// lets the wake-ups already queued run and waits for them and the workers
// (see [Pool.Close]). With a caller's pool ([WithPool]), queued wake-ups may
// still run after Close returns: close that pool to wait for them. Add
// and Rearm return [ErrClosed] from then on. It must not be called from the
// handler. Calling it again returns the first result.
func (p *Poller) Close() error {
	p.closeOnce.Do(func() {
		p.ctlMu.Lock()
		p.closed = true // no epoll_ctl from now on
		p.ctlMu.Unlock()
		// Closing the file wakes the loop's wait; the descriptor itself
		// is closed once the loop's Read no longer holds it.
		p.closeErr = p.file.Close()
		<-p.done
		p.registered.Store(0)
		if p.ownPool {
			p.pool.Close()
		}
	})
	<-p.done
	return p.closeErr
}
