package lifecycle

import (
	"bufio"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"
	"unique"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/evpoll"
)

// Event mode: a connection served by serveEvents holds no goroutine, no
// runtime timer and, while idle, no read buffer. Readiness comes from the
// process's event loop (loop.go: one epoll instance, registered
// edge-triggered): a wake-up comes when bytes arrive, and a worker of the
// loop's pool serves the connection (one at a time; a wake-up meanwhile
// makes it read again):
//
//  1. it gives the connection's bufio.Reader a buffer (idle connections
//     give theirs back to a pool) and reads once, without waiting
//     (connReader: no read of the loop ever blocks, whatever the peer
//     sends). The frame guard sees these bytes as in goroutine mode
//     (budgets, malformed frames);
//  2. while bytes are buffered it looks at them at a frame boundary: whole
//     control frames before a message are consumed outside gorilla (a
//     ping is answered, a pong timed, a Close handled by the arbiter); a
//     wholly buffered message is handed to gorilla, whose read then cannot
//     block, and then to the application's function. A message over the
//     read limit is closed with 1009 at the header that takes it there,
//     before gorilla reads any of it. Control frames between the fragments
//     of an unfinished message are answered at once, as a read loop would,
//     and gorilla's handlers skip them when it reads the message;
//  3. while the read filled the buffer, or a wake-up came meanwhile, it
//     reads again; a buffer full of an unfinished message grows (twice its
//     size, as far as the message needs): a message larger than the buffer
//     is gathered as it arrives, without a goroutine;
//  4. it ends its turn: the buffer goes back to its pool when nothing is
//     buffered; part of a message left waits in a buffer its size after a
//     second turn (a slow sender holds what it sent, not a pool's buffer),
//     and must keep coming (partialTimeout).
//
// Once closing has started, gorilla reads nothing more: an evpoll.Skipper
// passes over the data that still comes, from wherever gorilla stopped
// (inside a message over the limit, say), until the peer's Close completes
// the handshake, as the goroutine mode's drain does. A timer bounds it
// (armHandshake), not a read deadline.
//
// A message function runs on the worker that read its message. One that
// blocks past the pool's budget (10 to 20 ms) keeps that worker's
// goroutine, which goes on serving its connection alone once the function
// returns, while the pool starts another worker: a blocked function
// delays only its own connection's later messages, and costs a goroutine
// while it blocks, as in goroutine mode. Timers run on a pool of their own.
//
// Everything else is the goroutine mode's: the same arbiter, timers, read
// checks, hooks and Registry. The timers of all event-mode connections
// share the loop's one runtime timer (wakeHeap). The connection counts as
// always reading (flagReading), so a close never starts a drain goroutine.

// eventConn is a connection's event-mode state: its socket, owned
// (socket_linux.go), and what the loop needs to serve it. Made at the
// upgrade (ownSocket); the loop serves the connection from serveEvents on
// (Conn.events).
type eventConn struct {
	// The socket.
	fd         int32
	use        atomic.Uint32 // sockClosing | system calls in flight
	rdl        atomic.Int64  // read deadline, Unix ns; 0 for none
	wdl        atomic.Int64  // write deadline
	waits      atomic.Pointer[sockWaits]
	remoteIP   unique.Handle[netip.Addr] // addresses interned: many connections share a peer's IP, all a listener's
	local      unique.Handle[netip.AddrPort]
	remotePort uint16

	loop      *eventLoop
	conn      *Conn
	id        uint64
	bufs      *evpoll.BufferPool // of the size of the connection's read buffer
	onMessage func(*Conn, MessageType, []byte)
	br        *bufio.Reader // the read buffer gorilla reads through: &rd (its buffer lent while bytes are buffered)
	part      *partial      // made the first time a message is split across turns, or at the close; touched by the server only
	rd        bufio.Reader
}

// partial is what an event-mode connection needs while a message is split
// across turns (a slow sender, a message larger than the buffer) and once
// closing has started. Most connections never need it: it is made on
// first need (eventConn.partial) and kept.
type partial struct {
	conn     *Conn
	need     int64          // bytes the unfinished message needs buffered, from the boundary
	answered int            // control frames inside the unfinished message answered ahead of gorilla
	skipper  evpoll.Skipper // the frames read after the close decision
	carry    []byte         // bytes on their way into a new read buffer (moveBuffer)
	waited   bool           // the last turn ended with part of a message buffered

	// The bound on a message that stops coming (partialTimeout).
	since atomic.Int64 // since epoch, when a turn last left part of a message buffered; 0 while served, or with none
	armed atomic.Bool  // stall is armed
	stall Timer
}

// partial returns the connection's partial part, making it.
func (ec *eventConn) partial() *partial {
	if ec.part == nil {
		ec.part = &partial{conn: ec.conn}
	}
	return ec.part
}

// answered returns how many control frames inside the unfinished message
// the loop answered ahead of gorilla.
func (ec *eventConn) answered() int {
	if ec.part == nil {
		return 0
	}
	return ec.part.answered
}

// errWouldBlock: a read without waiting found nothing.
var errWouldBlock = evpoll.ErrWouldBlock

// connReader is the Conn as the source of its read buffer (the
// bufio.Reader gorilla reads through): the frame guard, read the blocking
// way; on the event loop (flagNonblocking), without waiting, so that no
// read of the loop ever blocks, whatever a peer sends.
type connReader Conn

func (r *connReader) Read(p []byte) (int, error) {
	c := (*Conn)(r)
	if !c.hasFlag(flagNonblocking) {
		return c.guard.Read(p)
	}
	ec := c.events.Load()
	if pt := ec.part; pt != nil && len(pt.carry) > 0 {
		// Bytes moving into a new buffer: read and guarded already.
		n := copy(p, pt.carry)
		pt.carry = pt.carry[n:]
		return n, nil
	}
	g := &c.guard
	if g.failure != nil {
		return 0, g.failure
	}
	n, err := ec.readNow(p)
	if err == errWouldBlock {
		return 0, err // nothing now; the transport is fine
	}
	return g.passed(p, n, err)
}

// ErrEventMode is returned by ReadMessage on a connection served by
// serveEvents: its messages go to the function given there.
var ErrEventMode = errors.New("wsmw: the connection is in event mode; its messages go to the serveEvents function")

// serveEvents serves c in event mode: onMessage is called with each data
// message (after the read checks, in order, one at a time) on a worker of a
// pool shared by every event-mode connection, and c holds no goroutine and,
// while idle, no read buffer. It returns at once. Call it instead of
// running a read loop, after the upgrade.
//
// onMessage may block (a database call, a write to a peer that does not
// read, up to the write timeout): past a budget of 10 to 20 ms its worker
// becomes c's own goroutine until it returns, and the pool starts another,
// so a blocked function delays only c's later messages and costs one
// goroutine while it blocks. A message larger than the read buffer is
// gathered in a buffer that grows as its bytes arrive, up to the read
// limit; part of a message that gets no more bytes for 60 s ends the
// connection (1006).
//
// Event mode needs a socket the loop owns (socket_linux.go): c made for it
// (config.Events) over plain TCP on Linux. Otherwise (other systems, TLS:
// crypto/tls buffers records itself, a failed dup), or when goroutines is
// true, serveEvents runs the same function from a read loop in a goroutine
// of c's own instead, the goroutine mode's cost with the event mode's API.
// It reports whether c is served by events.
func (c *Conn) serveEvents(onMessage func(*Conn, MessageType, []byte), goroutines bool) bool {
	if ec := c.ownedSocket(); ec != nil && !goroutines && ec.br.Size() > 256 {
		if c.registerEvents(ec, onMessage) {
			return true
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

// registerEvents has the loop serve c, whose socket ec is registered with
// its epoll since the upgrade.
func (c *Conn) registerEvents(ec *eventConn, onMessage func(*Conn, MessageType, []byte)) bool {
	ec.bufs, ec.onMessage = eventReadBuffers(ec.br.Size()), onMessage
	c.mu.Lock()
	// The loop claims the drain too: a close that began before (a
	// Registry's, a timer's, another goroutine's) and found nobody reading
	// has claimed it and reads the handshake in its own goroutine, which
	// then keeps the connection; the fallback's ReadMessage waits for it.
	if c.state() >= stateHooking || !c.claimFlag(flagDrainClaimed) {
		c.mu.Unlock()
		return false
	}
	c.flags.Or(flagReading | flagNonblocking | flagServing) // the loop is the reader from now on
	c.events.Store(ec)                                      // after the flags: a wake-up that sees it finds us serving
	c.startWakeLocked()
	c.mu.Unlock()
	if ec.br.Buffered() == 0 {
		ec.bufs.Detach(ec.br)
	}
	if c.closingStarted() {
		// Closing began meanwhile: its handshake is the loop's now.
		c.armHandshake(time.Now().Add(c.settings().closeTimeout))
	}
	// The first turn is ours (registered as serving): bytes that arrived
	// before the registration woke nobody to read them (flagReadable says
	// they came), and a wake-up meanwhile found us serving.
	if c.hasFlag(flagReadable) || ec.br.Buffered() > 0 || !c.leaveServe() {
		ec.loop.serveOn(c)
	}
	return true
}

// leaveEvents stops the loop from serving c (finish, linger): from now on
// a wake-up takes a runtime timer of c's own, and the socket's wake-ups go
// to whoever waits on it. The socket leaves the loop when it closes. The
// read buffer goes back to its pool, now if no worker serves c, else when
// its server sees that c left.
func (c *Conn) leaveEvents() {
	ec := c.events.Load()
	if ec == nil {
		return
	}
	c.mu.Lock()
	c.flags.Or(flagLeftEvents)
	ec.loop.wakes.remove(c)
	c.mu.Unlock()
	if c.enterServe() {
		c.dropBuffer(ec) // c's server for good
	}
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
// until the socket is drained and no wake-up came meanwhile, or the
// connection ends.
func (c *Conn) serve() {
	ec := c.events.Load()
	defer func() {
		if c.leftLoop() {
			c.dropBuffer(ec) // the server stays c's for good: nobody reads it again
		}
	}()
	for !c.leftLoop() {
		if pt := ec.part; pt != nil && pt.since.Load() != 0 {
			pt.since.Store(0) // served: no stall is the peer's while a function runs
		}
		if ec.br.Size() == 0 {
			ec.bufs.Attach(ec.br, (*connReader)(c))
		}
		full, eof := false, false
		if n := ec.br.Buffered(); n < ec.br.Size() {
			_, err := ec.br.Peek(n + 1) // one read, into what is free
			eof = err != nil && err != evpoll.ErrWouldBlock
			full = ec.br.Buffered() == ec.br.Size()
		}
		if c.consume(eof) {
			return
		}
		if full {
			if ec.br.Buffered() == ec.br.Size() {
				c.growBuffer(ec) // an unfinished message fills it
			}
			continue // the socket may hold more, and no wake-up will say so
		}
		c.endTurn(ec)
		if c.leaveServe() {
			return
		}
	}
}

// consume handles what the buffer holds; it reports true when the
// connection ended (or left the loop), false when it waits for more bytes.
func (c *Conn) consume(eof bool) bool {
	ec := c.events.Load()
	for ec.br.Buffered() > 0 {
		if c.closingStarted() {
			return c.consumeClosing(eof)
		}
		if c.guard.failure != nil {
			// A broken budget or rule: the bytes before it are
			// buffered; gorilla reads them, then fails on it. No more
			// bytes come through the guard, so epoll has nothing to
			// wait for (the read that broke the rule may have returned
			// them without its error, which bufio keeps).
			c.drainAtEOF()
			return true
		}
		rules := c.scanRules()
		m, err := evpoll.ScanMessage(ec.br, rules)
		switch {
		case err != nil && stricter(err) != "":
			// A frame gorilla would take (RSV1 on a control or
			// continuation frame): fail it ourselves.
			c.failEvents(protocolFailure(stricter(err)))
			return true
		case m.Status == evpoll.OverLimit:
			// Over the read limit at a frame header: gorilla reads none
			// of it (its own limit is not set); the closing reader
			// passes over it, from the boundary, while the handshake
			// waits for the peer's Close.
			c.closeAndDrain(localDecision(ErrMessageTooBig, StatusMessageTooBig, "message too big"))
		case err != nil, m.Status.Ready():
			// A whole message, or a bad frame gorilla fails on as in a
			// read loop: either way its read cannot block.
			if !c.readReady(m, err) {
				return true
			}
		default: // more bytes are needed
			for range m.Leading {
				h, payload, _, _ := evpoll.ReadControl(ec.br, rules)
				if !c.control(h, payload) {
					return true
				}
			}
			if m.Controls-m.Leading > ec.answered() && !m.Compressed {
				// Control frames between the fragments: a read loop
				// answers them now (a pong the heartbeat waits for).
				// Not inside a compressed message: gorilla may find
				// its deflate data corrupt before them, which only
				// reading the whole message tells.
				pt := ec.partial()
				pt.answered = evpoll.InteriorControls(ec.br, rules, pt.answered, c.control)
				if c.leftLoop() {
					return true
				}
			}
			if m.Need > 0 || ec.part != nil {
				ec.partial().need = m.Need
			}
			if eof {
				c.drainAtEOF()
				return true
			}
			return false
		}
	}
	if c.closingStarted() {
		return c.consumeClosing(eof)
	}
	if eof {
		c.drainAtEOF()
		return true
	}
	return false
}

// scanRules are the rules the scan checks, with the read limit on the
// wire: for a compressed message, what it inflates to is checked as
// gorilla reads it (readPayload); its wire size is bounded an eighth (and
// a kilobyte) above the limit, enough for any compressor's overhead, so
// that gathering it is bounded too.
func (c *Conn) scanRules() evpoll.Rules {
	r := evpoll.Rules{Deflate: c.hasFlag(flagDeflate)}
	if l := c.settings().readLimit; l > 0 {
		r.ReadLimit = l
		if r.Deflate {
			r.ReadLimit = satAdd(l, l/8+1024)
		}
	}
	return r
}

func satAdd(a, b int64) int64 {
	if a > 1<<62 || b > 1<<62 {
		return 1 << 62
	}
	return a + b
}

// answeredAhead reports whether gorilla's handler is meeting a control
// frame the loop answered already (answer), and counts it off.
func (c *Conn) answeredAhead() bool {
	if ec := c.events.Load(); ec != nil && ec.answered() > 0 {
		ec.part.answered--
		return true
	}
	return false
}

// readReady hands a wholly buffered message (or a bad frame, which gorilla
// fails on) to gorilla, then to the application; it reports false when
// the connection ended or left the loop.
func (c *Conn) readReady(m evpoll.MessageScan, scanErr error) bool {
	ec := c.events.Load()
	start, _ := ec.br.Peek(ec.br.Buffered()) // from the boundary: gorilla reads only what is buffered
	mt, data, ok := c.readBuffered()
	if c.leftLoop() {
		return false
	}
	consumed := len(start) - ec.br.Buffered()
	if consumed != m.Wire || scanErr != nil {
		if !c.closingStarted() {
			// A compressed message whose deflate stream ends before the
			// message does (or before a bad frame): gorilla would skip
			// the rest on its next read, which may need bytes not here
			// yet. Whatever the message's size, it is refused.
			c.failEvents(protocolFailure("invalid compressed data"))
			return false
		}
		// Closing, and gorilla stopped inside the message (one byte past
		// the read limit, or where a compressed message's stream ends):
		// the closing reader goes on from there.
		if ec.partial().skipper.Passed(start[:consumed]) != nil {
			c.finish()
			return false
		}
	}
	if ok {
		ec.onMessage(c, mt, data)
	}
	return !c.leftLoop() // the function may have blocked while the connection ended
}

// consumeClosing reads what comes once closing has started: an
// evpoll.Skipper passes over data, from wherever gorilla stopped, and the
// peer's Close completes the handshake. Gorilla reads nothing more. It
// reports true when the connection ended, false when it waits for more
// bytes.
func (c *Conn) consumeClosing(eof bool) bool {
	ec := c.events.Load()
	pt := ec.partial()
	rules := evpoll.Rules{Deflate: c.hasFlag(flagDeflate)}
	for {
		h, payload, ok, err := pt.skipper.Next(ec.br, rules)
		if err != nil {
			c.finish() // a frame gorilla would refuse: no Close to wait for
			return true
		}
		if !ok {
			break
		}
		if h.Opcode != evpoll.OpClose && pt.answered > 0 {
			pt.answered-- // answered while its message was unfinished
			continue
		}
		if !c.control(h, payload) {
			return true
		}
	}
	if eof || c.guard.failure != nil {
		c.finish() // the peer is gone, or broke a budget: no Close is coming
		return true
	}
	return false
}

// stricter returns the reason of a frame that breaks a rule gorilla does
// not enforce ([evpoll.FrameError.Stricter]), "" for any other error. Out of
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
		c.inbound.Add(1)
		c.writePong(string(payload))
	case evpoll.OpPong:
		c.inbound.Add(1)
		c.pong(string(payload))
	case evpoll.OpClose:
		code, text, err := evpoll.ParseClose(payload)
		if err != nil {
			c.failEvents(protocolFailure(err.Error()))
			return false
		}
		c.handlePeerClose(code, text)
		c.endRead(&websocket.CloseError{Code: code, Text: text})
		return false
	}
	return true
}

// readBuffered reads one wholly buffered message (readStep, whose read
// cannot block here): it reports false when there is no message for the
// application (a read check dropped it, the connection is closing, or it
// ended).
func (c *Conn) readBuffered() (MessageType, []byte, bool) {
	mt, data, step := c.readStep()
	return mt, data, step == stepMessage
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

var errLoopClosed = errors.New("wsmw: event loop closed")

// partialTimeout bounds the wait for the rest of a message: part of a
// message (or of a frame) left buffered that gets no more bytes for this
// long ends the connection (1006, a read timeout), as a read deadline
// renewed by each read would. Time spent in the connection's functions
// does not count. A variable for tests.
var partialTimeout = 60 * time.Second

// errPartialTimeout is the cause of that end.
var errPartialTimeout = &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}

// endTurn ends a turn of c's server. The read buffer goes back to its
// pool when nothing is buffered. Part of a message left buffered must keep
// coming (partialTimeout, on the stall timer); after a second turn it
// waits in a buffer its size (a slow sender holds what it sent, not a
// buffer of the pool's).
func (c *Conn) endTurn(ec *eventConn) {
	n := ec.br.Buffered()
	if n == 0 {
		if ec.part != nil {
			ec.part.waited = false
		}
		c.releaseBuffer(ec)
		return
	}
	pt := ec.partial()
	if pt.waited && n <= ec.br.Size()/4 {
		if size := partialBufferSize(n); size < ec.br.Size() {
			c.moveBuffer(ec, size)
		}
	}
	pt.waited = true
	pt.since.Store(max(int64(time.Since(epoch)), 1))
	if pt.armed.CompareAndSwap(false, true) {
		c.StartTimer(&pt.stall, partialTimeout, pt.stalled)
	}
}

// stalled runs on the stall timer: it ends the connection when part of a
// message has waited partialTimeout for more bytes, and otherwise re-arms
// for the rest of the wait, or disarms when nothing waits.
func (pt *partial) stalled() {
	since := pt.since.Load()
	if since == 0 {
		pt.armed.Store(false)
		// A turn may have left part of a message meanwhile, and found
		// the timer armed: look again.
		if since = pt.since.Load(); since == 0 || !pt.armed.CompareAndSwap(false, true) {
			return
		}
	}
	if wait := time.Duration(since) + partialTimeout - time.Since(epoch); wait > 0 {
		pt.stall.Reset(wait)
		return
	}
	pt.conn.kill(lostConnection(errPartialTimeout))
}

// leftLoop reports whether the loop no longer serves c: it has ended, or
// a broken rule's linger took it over (failRead), whose goroutine reads
// the peer's remaining bytes and then closes TCP. Reading on here would
// fail again on gorilla's kept error and close TCP at once, with the
// peer's bytes unread: a reset, which destroys our Close frame in the
// peer's receive queue.
func (c *Conn) leftLoop() bool {
	return c.state() >= stateFinishing || c.hasFlag(flagLeftEvents)
}

// failEvents ends the connection for a frame that broke a rule that only
// the event mode's scan sees (gorilla would take the frame).
func (c *Conn) failEvents(end *CloseError) { c.failWith(failure(end, nil)) }

var errHandshakeTimeout = &net.OpError{Op: "read", Err: errors.New("close handshake timed out")}
