package lifecycle

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/evpoll"
)

// Event mode: a connection served by ServeEvents holds no goroutine, no
// runtime timer and, while idle, no read buffer. Readiness comes from one
// epoll instance for the whole process (package internal/evpoll),
// registered edge-triggered: a wake-up comes when bytes arrive, and a
// worker of a shared pool serves the connection (one worker at a time; a
// wake-up meanwhile makes it read again):
//
//  1. it gives the connection's bufio.Reader a buffer (idle connections
//     give theirs back to a pool) and reads once, without waiting
//     (connReader: a worker never blocks in a read, whatever the peer
//     sends). The frame guard sees these bytes as in goroutine mode
//     (budgets, malformed frames);
//  2. while bytes are buffered it looks at them at a frame boundary: whole
//     control frames before a message are consumed outside gorilla (a
//     ping is answered, a pong timed, a Close handled by the arbiter); a
//     wholly buffered message is handed to gorilla, whose read then cannot
//     block, and then to the application's function; a message too big
//     for the buffer, or stalled with control frames inside, is read the
//     blocking way by a goroutine of its own, which hands the connection
//     back to the pool;
//  3. while the read filled the buffer, or a wake-up came meanwhile, it
//     reads again; then it gives the buffer back when nothing is
//     buffered, and ends its turn.
//
// Everything else is the goroutine mode's: the same arbiter, timers, read
// checks, hooks and Registry. The timers of all event-mode connections
// share the loop's one runtime timer (wakeHeap). The connection counts as
// always reading (flagReading), so a close never starts a drain goroutine:
// the peer's Close arrives as an event, and a timer bounds the handshake
// instead of a read deadline.

// eventConn is a connection's event-mode state.
type eventConn struct {
	loop      *eventLoop
	id        uint64
	rc        syscall.RawConn
	bufs      *evpoll.BufferPool // of the size of the connection's read buffer
	onMessage func(*Conn, MessageType, []byte)
}

// eventLoop is an epoll instance, its worker pool and the table from ids
// to connections.
// The process has one while it has event-mode connections: the first
// starts it, and it stops when the last leaves, so a process (or a test)
// with none holds none of its goroutines.
type eventLoop struct {
	poller *evpoll.Poller
	conns  int      // registered connections; guarded by loopMu
	timers wakeHeap // the connections' wake-ups, on one runtime timer

	mu    sync.Mutex
	slots []*Conn  // by id's low 32 bits
	gens  []uint32 // each slot's generation: the id's high 32 bits
	free  []uint32 // free slots
}

// EventBufferSize is the read buffer of an event-mode connection while it
// is not idle: a message that fits (with its frame headers) is read without
// a goroutine; a larger one takes the blocking path. Idle connections hold
// none, so a larger buffer costs nothing while they wait: 8 KiB, so that
// messages of 4 KiB and somewhat more, common sizes, fit with their headers.
const EventBufferSize = 8192

var (
	loopMu      sync.Mutex
	currentLoop *eventLoop
)

// joinLoop returns the running event loop, starting one if there is none,
// and counts a connection on it; it reports evpoll.ErrUnsupported where
// epoll is not available.
func joinLoop() (*eventLoop, error) {
	loopMu.Lock()
	defer loopMu.Unlock()
	if currentLoop == nil {
		l := new(eventLoop)
		l.timers.run = l.runTimers
		p, err := evpoll.New(l.wake, evpoll.WithEdgeTriggered())
		if err != nil {
			return nil, err
		}
		l.poller = p
		currentLoop = l
	}
	currentLoop.conns++
	return currentLoop, nil
}

// runTimers runs c's timers on a worker of the pool (see wakeHeap), at
// Low priority: reads come first, but never more than a few ahead. A
// timer that blocks (a ping to a peer that does not read, up to its
// deadline) holds its worker as a message function would.
func (l *eventLoop) runTimers(c *Conn) {
	if ec := c.events.Load(); ec == nil || l.poller.Pool().SubmitID(evpoll.Low, l.runTimersOf, ec.id) != nil {
		go c.runTimers()
	}
}

func (l *eventLoop) runTimersOf(id uint64, _ evpoll.Events) {
	if c := l.lookup(id); c != nil {
		c.runTimers()
	}
}

// leave uncounts a connection; the last one stops the loop. The loop's
// Close waits for its workers, and this may run on one of them, so it
// closes from a goroutine of its own.
func (l *eventLoop) leave() {
	loopMu.Lock()
	defer loopMu.Unlock()
	if l.conns--; l.conns == 0 {
		if currentLoop == l {
			currentLoop = nil
		}
		l.timers.stop()
		go l.poller.Close()
	}
}

// connReader is the Conn as the source of its read buffer (the
// bufio.Reader gorilla reads through): the frame guard, read the blocking
// way; on the event loop, without waiting (flagNonblocking), so that no
// read of a worker ever blocks, whatever a peer sends.
type connReader Conn

func (r *connReader) Read(p []byte) (int, error) {
	c := (*Conn)(r)
	if !c.hasFlag(flagNonblocking) {
		if c.hasFlag(flagBlockingPath) {
			// A message over the buffer, read by a goroutine of its own:
			// it must keep coming (see blockingReadTimeout).
			c.guard.Conn.SetReadDeadline(time.Now().Add(blockingReadTimeout))
		}
		return c.guard.Read(p)
	}
	g := &c.guard
	if g.failure != nil {
		return 0, g.failure
	}
	n, err := evpoll.ReadNonblock(c.events.Load().rc, p)
	if err == evpoll.ErrWouldBlock {
		return 0, err // nothing now; the transport is fine
	}
	return g.passed(p, n, err)
}

// ErrEventMode is returned by ReadMessage on a connection served by
// ServeEvents: its messages go to the function given there.
var ErrEventMode = errors.New("wsmw: the connection is in event mode; its messages go to the ServeEvents function")

// ServeEvents serves c in event mode: onMessage is called with each data
// message (after the read checks, in order, one at a time) on a worker of a
// pool shared by every event-mode connection, and c holds no goroutine and,
// while idle, no read buffer. It returns at once. Call it instead of
// running a read loop, after the upgrade. onMessage should not block for
// long: a write to a peer that does not read holds its worker up to the
// write timeout (WriteTimeout) — send through a queue (package queue) to
// hold none. A message larger than the read buffer (with its frame
// headers), or one whose fragments are interleaved with control frames
// that arrive before its end, is read by a goroutine of its own until it
// is whole, each read under a 60 s deadline; size the buffer
// (EventBufferSize by default) above the messages you expect.
//
// Where epoll is not available (other systems), for connections that are
// not plain TCP (TLS: crypto/tls buffers records itself), or when
// goroutines is true, ServeEvents runs the same function from a read loop
// in a goroutine of c's own instead, the goroutine mode's cost with the
// event mode's API. It reports whether c is served by events.
func (c *Conn) ServeEvents(onMessage func(*Conn, MessageType, []byte), goroutines bool) bool {
	if !goroutines && c.br != nil && c.br.Size() > 256 {
		if sc, ok := c.guard.Conn.(syscall.Conn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				if l, err := joinLoop(); err == nil {
					if c.registerEvents(l, rc, onMessage) {
						return true
					}
					l.leave()
				}
			}
		}
	}
	c.mu.Lock()
	c.startWakeLocked()
	c.mu.Unlock()
	go func() {
		for {
			mt, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			onMessage(c, mt, data)
		}
	}()
	return false
}

// registerEvents hands c to the loop.
func (c *Conn) registerEvents(l *eventLoop, rc syscall.RawConn, onMessage func(*Conn, MessageType, []byte)) bool {
	ec := &eventConn{loop: l, rc: rc, bufs: eventReadBuffers(c.br.Size()), onMessage: onMessage}
	ec.id = l.add(c)
	c.mu.Lock()
	// The loop claims the drain too: a close that began before (a
	// Registry's, a timer's, another goroutine's) and found nobody reading
	// has claimed it and reads the handshake in its own goroutine, which
	// then keeps the connection; the fallback's ReadMessage waits for it.
	if c.hooksTaken || !c.claimFlag(flagDrainClaimed) {
		c.mu.Unlock()
		l.drop(ec.id)
		return false
	}
	c.events.Store(ec)
	c.flags.Or(flagReading | flagNonblocking | flagServing) // the loop is the reader from now on
	c.startWakeLocked()
	c.mu.Unlock()
	if c.br.Buffered() == 0 {
		ec.bufs.Detach(c.br)
	}
	if err := l.poller.Add(rc, ec.id); err != nil {
		if c.br.Size() == 0 {
			ec.bufs.Attach(c.br, (*connReader)(c))
		}
		c.mu.Lock()
		l.timers.remove(c)
		c.events.Store(nil)
		c.flags.And(^uint32(flagReading | flagDrainClaimed | flagNonblocking | flagServing)) // the fallback reads
		c.startWakeLocked()                                                                  // on a runtime timer of its own now
		c.mu.Unlock()
		l.drop(ec.id)
		return false
	}
	if c.decision.Load() != nil {
		// Closing began meanwhile: its handshake is the loop's now.
		c.armHandshake(time.Now().Add(c.closeTimeout))
	}
	// The first turn is ours (registered as serving): bytes buffered
	// before the registration woke nothing, and a wake-up meanwhile found
	// us serving.
	if c.br.Buffered() > 0 || !c.leaveServe() {
		if l.poller.Pool().Submit(evpoll.High, c.serve) != nil {
			c.kill(errLoopClosed)
		}
	}
	return true
}

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

// add gives c an id that is never reused for another connection.
func (l *eventLoop) add(c *Conn) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var i uint32
	if n := len(l.free); n > 0 {
		i = l.free[n-1]
		l.free = l.free[:n-1]
		l.slots[i] = c
	} else {
		i = uint32(len(l.slots))
		l.slots = append(l.slots, c)
		l.gens = append(l.gens, 0)
	}
	return uint64(l.gens[i])<<32 | uint64(i)
}

func (l *eventLoop) lookup(id uint64) *Conn {
	i, gen := uint32(id), uint32(id>>32)
	l.mu.Lock()
	defer l.mu.Unlock()
	if int(i) >= len(l.slots) || l.gens[i] != gen {
		return nil
	}
	return l.slots[i]
}

func (l *eventLoop) drop(id uint64) {
	i, gen := uint32(id), uint32(id>>32)
	l.mu.Lock()
	defer l.mu.Unlock()
	if int(i) < len(l.slots) && l.gens[i] == gen {
		l.slots[i] = nil
		l.gens[i]++
		l.free = append(l.free, i)
	}
}

// leaveEvents unregisters c before its socket is closed (finish).
func (c *Conn) leaveEvents() {
	ec := c.events.Load()
	if ec == nil {
		return
	}
	c.mu.Lock()
	left := c.claimFlag(flagLeftEvents) // from now on a wake-up takes a runtime timer of c's own
	ec.loop.timers.remove(c)
	c.mu.Unlock()
	if !left {
		return
	}
	ec.loop.poller.Remove(ec.rc)
	ec.loop.drop(ec.id)
	ec.loop.leave()
}

// wake is the poller's handler: new bytes arrived on a connection (or it
// hung up). One worker at a time serves a connection; a wake-up for one
// that is being served tells its worker to read again (the registration
// is edge-triggered: no wake-up comes for bytes that were there already).
func (l *eventLoop) wake(id uint64, _ evpoll.Events) {
	c := l.lookup(id)
	if c == nil || c.hasFlag(flagFinished) || !c.enterServe() {
		return
	}
	c.serve()
}

// enterServe makes the caller the connection's server, or tells the
// current one to read again; it reports whether the caller serves.
func (c *Conn) enterServe() bool {
	for {
		old := c.flags.Load()
		next := old | flagServing
		if old&flagServing != 0 {
			next = old | flagServeAgain
		}
		if c.flags.CompareAndSwap(old, next) {
			return old&flagServing == 0
		}
	}
}

// leaveServe ends the server's turn, unless a wake-up came during it: then
// it reports false, and the server reads again.
func (c *Conn) leaveServe() bool {
	for {
		old := c.flags.Load()
		next := old &^ flagServing
		if old&flagServeAgain != 0 {
			next = old &^ flagServeAgain
		}
		if c.flags.CompareAndSwap(old, next) {
			return old&flagServeAgain == 0
		}
	}
}

// serve reads what the socket holds, without waiting, and handles it,
// until the socket is drained and no wake-up came meanwhile; or it hands
// the connection to the blocking path, or the connection ends.
func (c *Conn) serve() {
	ec := c.events.Load()
	for !c.leftLoop() {
		if c.br.Size() == 0 {
			ec.bufs.Attach(c.br, (*connReader)(c))
		}
		full, eof := false, false
		if n := c.br.Buffered(); n < c.br.Size() {
			_, err := c.br.Peek(n + 1) // one read, into what is free
			eof = err != nil && err != evpoll.ErrWouldBlock
			full = c.br.Buffered() == c.br.Size()
		}
		if c.consume(eof) {
			return
		}
		if full {
			continue // the socket may hold more, and no wake-up will say so
		}
		if c.br.Buffered() == 0 {
			ec.bufs.Detach(c.br) // idle: the buffer goes back to the pool
		}
		if c.leaveServe() {
			return
		}
	}
}

// consume handles what the buffer holds; it reports true when the
// connection went to the blocking path or ended, false when it waits for
// more bytes.
func (c *Conn) consume(eof bool) bool {
	ec := c.events.Load()
	rules := evpoll.Rules{Deflate: c.hasFlag(flagDeflate)}
	for c.br.Buffered() > 0 {
		if c.guard.failure != nil {
			// A broken budget or rule: the bytes before it are
			// buffered; gorilla reads them, then fails on it. No more
			// bytes come through the guard, so epoll has nothing to
			// wait for (the read that broke the rule may have returned
			// them without its error, which bufio keeps).
			c.drainAtEOF()
			return true
		}
		m, err := evpoll.ScanMessage(c.br, rules)
		switch {
		case err != nil && stricter(err) != "":
			// A frame gorilla would take (RSV1 on a control or
			// continuation frame): fail it ourselves.
			c.failEvents(protocolFailure(stricter(err)))
			return true
		case err != nil, m.Status.Ready():
			// A whole message, or a bad frame gorilla fails on as in a
			// read loop: either way its read cannot block.
			before := c.br.Buffered()
			mt, data, ok := c.readBuffered()
			if !ok {
				if c.leftLoop() {
					return true
				}
				continue // dropped by a check, or read while closing
			}
			if err == nil && before-c.br.Buffered() != m.Wire {
				// A compressed message whose deflate stream ends before
				// the message does: gorilla would skip the rest later.
				c.failEvents(protocolFailure("invalid compressed data"))
				return true
			}
			ec.onMessage(c, mt, data)
		case m.Status == evpoll.TooBig, m.Status == evpoll.Stalled:
			go c.readBlocking()
			return true
		default: // Incomplete: take the control frames ahead of it
			for range m.Leading {
				h, payload, _, _ := evpoll.ReadControl(c.br, rules)
				if !c.control(h, payload) {
					return true
				}
			}
			if eof {
				c.drainAtEOF()
				return true
			}
			return false
		}
	}
	if eof {
		c.drainAtEOF()
		return true
	}
	return false
}

// stricter returns the reason of a frame that breaks a rule gorilla does
// not enforce (evpoll.FrameError.Stricter), "" for any other error. Out of
// line, so that the scan's hot path does not allocate the error target.
func stricter(err error) string {
	var fe *evpoll.FrameError
	if errors.As(err, &fe) && fe.Stricter {
		return fe.Reason
	}
	return ""
}

// control handles a control frame consumed outside gorilla, as gorilla's
// handlers would inside a read; it reports false when the connection
// ended.
func (c *Conn) control(h evpoll.Header, payload []byte) bool {
	switch h.Opcode {
	case evpoll.OpPing:
		c.handlePing(string(payload))
	case evpoll.OpPong:
		c.handlePong(string(payload))
	case evpoll.OpClose:
		code, text, err := evpoll.ParseClose(payload)
		if err != nil {
			c.failEvents(protocolFailure(err.Error()))
			return false
		}
		c.handlePeerClose(code, text)
		c.readEnded(&websocket.CloseError{Code: code, Text: text})
		return false
	}
	return true
}

// readBuffered reads one wholly buffered message, as ReadMessage does but
// without ever blocking: it reports false when there is no message for the
// application (a read check dropped it, the connection is closing, or it
// ended).
func (c *Conn) readBuffered() (MessageType, []byte, bool) {
	mt, r, err := c.nextReader()
	if err != nil {
		c.readEnded(err)
		return 0, nil, false
	}
	if c.decision.Load() != nil {
		// Closing: the handshake waits for the peer's Close; what comes
		// before it is discarded.
		if _, err := io.Copy(io.Discard, r); err != nil {
			c.readEnded(err)
		}
		return 0, nil, false
	}
	data, err := c.readPayload(r)
	if err != nil {
		if err == errTooBig {
			c.startClose(ErrMessageTooBig, StatusMessageTooBig, "message too big")
		} else {
			c.readEnded(err)
		}
		return 0, nil, false
	}
	c.inbound.Add(1)
	if c.decision.Load() != nil {
		return 0, nil, false
	}
	switch err := c.runChecks(MessageType(mt), data); {
	case err == nil:
		return MessageType(mt), data, true
	case errors.Is(err, ErrDropMessage):
		return 0, nil, false
	default:
		c.rejectAsync(err)
		return 0, nil, false
	}
}

// drainAtEOF: the peer is gone, or a rule was broken. gorilla reads what
// is buffered to the end of the stream, or to the broken rule, without
// blocking, and fails as in a read loop.
func (c *Conn) drainAtEOF() {
	for !c.leftLoop() {
		mt, data, ok := c.readBuffered()
		if ok {
			c.events.Load().onMessage(c, mt, data)
		}
	}
}

// readBlocking reads one message the blocking way, in a goroutine of its
// own (through the frame guard, not the loop's non-blocking reads), and
// goes back to the loop through the pool, still the connection's server:
// the bytes after the message may be buffered already, and no wake-up
// would come for them.
func (c *Conn) readBlocking() {
	ec := c.events.Load()
	c.flags.And(^uint32(flagNonblocking))
	c.flags.Or(flagBlockingPath)
	mt, r, err := c.nextReader()
	if err != nil {
		c.readEnded(err)
		return
	}
	if c.decision.Load() != nil {
		if _, err := io.Copy(io.Discard, r); err != nil {
			c.readEnded(err)
			return
		}
	} else if data, err := c.readPayload(r); err == errTooBig {
		c.startClose(ErrMessageTooBig, StatusMessageTooBig, "message too big")
	} else if err != nil {
		c.readEnded(err)
		return
	} else {
		c.inbound.Add(1)
		if c.decision.Load() == nil {
			switch err := c.runChecks(MessageType(mt), data); {
			case err == nil:
				ec.onMessage(c, MessageType(mt), data)
			case errors.Is(err, ErrDropMessage):
			default:
				c.rejectAsync(err)
			}
		}
	}
	c.flags.And(^uint32(flagBlockingPath))
	if c.decision.Load() == nil {
		// The loop's reads must not find a deadline passed. (A close
		// bounds its handshake with one: keep that.)
		c.guard.Conn.SetReadDeadline(time.Time{})
	}
	c.flags.Or(flagNonblocking)
	if ec.loop.poller.Pool().Submit(evpoll.High, c.serve) != nil {
		c.kill(errLoopClosed)
	}
}

var errLoopClosed = errors.New("wsmw: event loop closed")

// blockingReadTimeout bounds each read of the blocking path: a message
// larger than the read buffer must keep arriving, or the connection ends
// (1006, a read timeout), and its goroutine with it. A variable for tests.
var blockingReadTimeout = 60 * time.Second

// leftLoop reports whether the loop no longer serves c: it has ended, or
// a broken rule's linger took it over (failRead), whose goroutine reads
// the peer's remaining bytes and then closes TCP. Reading on here would
// fail again on gorilla's kept error and close TCP at once, with the
// peer's bytes unread: a reset, which destroys our Close frame in the
// peer's receive queue.
func (c *Conn) leftLoop() bool {
	return c.hasFlag(flagFinished | flagLeftEvents)
}

// failEvents ends the connection for a frame that broke a rule that only
// the event mode's scan sees (gorilla would take the frame).
func (c *Conn) failEvents(end *CloseError) {
	if !c.failRead(end, nil) {
		c.finish()
	}
}

// rejectAsync closes the connection for a read check's error without
// waiting for the handshake.
func (c *Conn) rejectAsync(err error) { c.startClose(checkClose(err)) }

var errHandshakeTimeout = &net.OpError{Op: "read", Err: errors.New("close handshake timed out")}
