package lifecycle

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The close arbiter: every cause that wants to end a connection asks it,
// the first one wins (decide), and what it decided is carried out in one
// place (carryOut). The end itself — TCP closed, the CloseInfo settled,
// the hooks run — is finish's (finish.go); what ended a read, and the
// close it calls for, is readend.go's.

// closeState is where a connection is in its end. It only moves forward:
//
//	open → closing → finishing → hooking → ended
//
// decide takes it from open to closing; finish from closing to finishing
// (TCP closed, the [CloseInfo] settled), to hooking (the OnClose hooks run)
// and to ended.
type closeState uint32

const (
	stateOpen      closeState = iota // no cause has won
	stateClosing                     // a cause won (closing.decided): its Close frame, then the handshake
	stateFinishing                   // TCP is closing and the CloseInfo is being settled
	stateHooking                     // the OnClose hooks run; the CloseInfo is final
	stateEnded                       // every hook has run
)

// closing is a connection's close, in one place: where it is and the
// decision that won, which records the Close frames that went over the
// wire (an open connection keeps no room for them).
type closing struct {
	state   atomic.Uint32 // a closeState; moved under Conn.mu
	decided *decision     // the cause that won; written once, before state leaves open
}

// decision is what a cause asks for: the end it reports, the Close frame
// to write (send), and what follows the frame; the one that won also
// records the frames on the wire.
type decision struct {
	end       CloseError
	frame     CloseFrame
	send      bool
	then      afterFrame
	sendLimit time.Duration // bounds the Close frame's write when set
	gorilla   *CloseFrame   // the 1002 gorilla wrote on its own for the same protocol error, if it did

	sent     atomic.Pointer[CloseFrame]
	received atomic.Pointer[CloseFrame]
	sendMu   sync.Mutex // held while our Close frame is written
}

// afterFrame is what follows a decision's Close frame.
type afterFrame uint8

const (
	awaitPeer afterFrame = iota // read until the peer's Close, at most the close timeout (RFC 6455 §7.1.1)
	closeNow                    // close TCP at once: the peer is gone, or its end is already here
	linger                      // half-close and discard what the peer still sends: gorilla's reader is dead
)

// state returns where the connection is in its end.
func (c *Conn) state() closeState { return closeState(c.end.state.Load()) }

// closingStarted reports whether a cause has won. It is the check of every
// read and write.
func (c *Conn) closingStarted() bool { return c.state() != stateOpen }

// closeErr returns the winning cause as an error, nil while open.
func (c *Conn) closeErr() error {
	if !c.closingStarted() {
		return nil
	}
	return &c.end.decided.end // written before the state left open
}

// localDecision is the close the application or a policy asks for: a Close
// frame with code and reason, then the handshake. A code that may not be
// sent becomes a Close frame without a status; the reason is cut to 123
// bytes.
func localDecision(cause error, code StatusCode, reason string) *decision {
	if !code.Sendable() {
		code, reason = StatusNoStatusRcvd, "" // an empty Close frame
	} else {
		reason = truncateReason(reason)
	}
	return &decision{
		end:   CloseError{Code: code, Reason: reason, Initiator: InitiatorLocal, Cause: cause},
		frame: CloseFrame{Code: code, Reason: reason},
		send:  true,
	}
}

// abnormalDecision is an end without a Close frame: the transport failed
// (1006, never on the wire).
func abnormalDecision(cause error) *decision {
	return &decision{end: CloseError{Code: StatusAbnormalClosure, Initiator: InitiatorAbnormal, Cause: cause}, then: closeNow}
}

// decide makes d the connection's close, if no cause has won yet, and
// reports whether it did. From then on reads and writes fail with d's
// [*CloseError], Context is cancelled with it, and the policies' timers are
// stopped.
func (c *Conn) decide(d *decision) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closingStarted() {
		return false
	}
	c.end.decided = d
	c.end.state.Store(uint32(stateClosing))
	if c.waiters != nil && c.waiters.cancel != nil {
		c.waiters.cancel(&d.end)
	}
	c.stopTimersLocked()
	return true
}

// carryOut carries out the decision that won: it writes its Close frame
// (bounded by the close timeout, and by limit and d.sendLimit when set),
// then closes TCP now, lingers, or leaves the peer's Close to whoever
// reads: the application's reader, or the event loop (bounded by a
// timer). It reports true when nobody reads: the caller must then read the
// handshake itself (drain), at once or from a goroutine of its own.
func (c *Conn) carryOut(d *decision, limit time.Time) (drain bool) {
	deadline := time.Now().Add(c.settings().closeTimeout)
	then := d.then
	if then == awaitPeer {
		// Bounds the reader, whoever it is, before anyone looks at it.
		c.ws.NetConn().SetReadDeadline(deadline)
	}
	if d.send {
		sendDeadline := deadline
		if d.sendLimit > 0 {
			sendDeadline = time.Now().Add(d.sendLimit)
		}
		if !limit.IsZero() && limit.Before(sendDeadline) {
			sendDeadline = limit
		}
		err := c.writeClose(sendDeadline)
		if d.gorilla != nil && errors.Is(err, websocket.ErrCloseSent) {
			c.recordSent(d.gorilla) // gorilla's own 1002 went first
		}
		if d.sent.Load() == nil {
			then = closeNow // no handshake without a Close frame of ours
		}
	}
	switch {
	case then == closeNow:
		c.finish()
		return false
	case then == linger:
		c.lingerAndFinish()
		return false
	case c.events.Load() != nil:
		c.armHandshake(deadline) // the peer's Close comes as an event
		return false
	}
	// The reading flag and the state are both sequentially consistent
	// atomics: either the reader sees the decision after leaving the gorilla
	// reader, or we see that nobody is reading; whoever claims the drain
	// reads until the peer's Close.
	return !c.hasFlag(flagReading) && c.claimFlag(flagDrainClaimed)
}

// Close starts the close handshake with code and reason, as the
// application's own decision (cause [ErrApplicationClose]). See CloseWith.
func (c *Conn) Close(code StatusCode, reason string) error {
	return c.CloseWith(ErrApplicationClose, code, reason)
}

// CloseWith starts the close handshake with code and reason and records
// cause as the reason for the end (errors.Is works on [CloseInfo.Cause]). A
// code that may not be sent (1005, 1006, 1014, 1015, outside 1000-4999)
// becomes a Close frame without a status; the reason is cut to 123 bytes.
//
// Only the first close takes effect: CloseWith returns nil when it won, and
// otherwise the winner's [*CloseError] at once. It returns once the Close frame
// is written; if no other goroutine was reading, it also waits for the
// peer's Close (at most the close timeout) and for the end. Use Wait or Done
// to wait for the end in every case.
func (c *Conn) CloseWith(cause error, code StatusCode, reason string) error {
	if cause == nil {
		cause = ErrApplicationClose
	}
	if c.closingStarted() || !c.closeAndDrain(localDecision(cause, code, reason)) {
		return c.closeErr()
	}
	return nil
}

// closeAndDrain decides d and carries it out, reading the handshake itself
// when nobody reads. It reports whether d won.
func (c *Conn) closeAndDrain(d *decision) bool {
	if !c.decide(d) {
		return false
	}
	if c.carryOut(d, time.Time{}) {
		c.drain()
	}
	return true
}

// startClose is CloseWith for callers that must not wait for the
// handshake: it returns once the Close frame is written, and the
// handshake, if nobody reads, is read by a goroutine of its own.
func (c *Conn) startClose(cause error, code StatusCode, reason string) bool {
	if c.closingStarted() {
		return false
	}
	d := localDecision(cause, code, reason)
	if !c.decide(d) {
		return false
	}
	if c.carryOut(d, time.Time{}) {
		go c.drain()
	}
	return true
}

// closeAsync is CloseWith that never waits: the cause wins (or loses) at
// once, and the Close frame and the handshake are carried out in a new
// goroutine. Use it where the caller must not block, such as a send queue
// that overflows while a write to the same peer is stuck. It reports
// whether this cause won.
func (c *Conn) closeAsync(cause error, code StatusCode, reason string) bool {
	if cause == nil {
		cause = ErrApplicationClose
	}
	if c.closingStarted() {
		return false
	}
	d := localDecision(cause, code, reason)
	if !c.decide(d) {
		return false
	}
	go func() {
		if c.carryOut(d, time.Time{}) {
			c.drain()
		}
	}()
	return true
}

// Abort ends the connection without waiting for the peer: it writes a
// best-effort Close frame with code and reason (none when code is not
// Sendable) under a short deadline, closes TCP, and reports the end as
// abnormal, 1006, with reason and cause. It is meant for peers that are gone
// or broken, such as a missed heartbeat. It reports whether it won.
func (c *Conn) abort(cause error, code StatusCode, reason string) bool {
	reason = truncateReason(reason)
	d := abnormalDecision(cause)
	d.end.Reason = reason
	d.sendLimit = abortWriteTimeout
	if code.Sendable() {
		d.frame, d.send = CloseFrame{Code: code, Reason: reason}, true
	}
	if !c.decide(d) {
		return false
	}
	c.carryOut(d, time.Time{})
	return true
}

// kill closes TCP at once. The end is reported by whoever was closing, or as
// abnormal with cause if nobody was.
func (c *Conn) kill(cause error) {
	c.decide(abnormalDecision(cause))
	c.finish()
}

// drain reads and discards until the peer's Close, the deadline or an
// error, then ends the connection.
func (c *Conn) drain() {
	for {
		_, r, err := c.nextReader()
		if err != nil {
			c.endRead(err)
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			c.endRead(err)
			return
		}
	}
}

// handlePeerClose runs inside the gorilla reader when a Close frame
// arrives. gorilla has already refused invalid codes and reasons (1002),
// and the frame guard payloads of one byte. The peer's close wins unless a
// close had been decided already; either way a Close frame goes back now
// if none has: the echo, or the frame of the close that was decided but
// not written yet.
func (c *Conn) handlePeerClose(code int, text string) error {
	c.inbound.Add(1)
	frame := &CloseFrame{Code: StatusCode(code), Reason: text}
	d := &decision{
		end:   CloseError{Code: frame.Code, Reason: text, Initiator: InitiatorPeer, Cause: ErrPeerClosed},
		frame: CloseFrame{Code: frame.Code},
		send:  true,
		then:  closeNow,
	}
	d.received.Store(frame)
	if !c.decide(d) {
		c.end.decided.received.Store(frame) // the close that won records it
	}
	c.writeClose(time.Now().Add(c.settings().closeTimeout))
	return nil
}

// writeClose writes the decided Close frame, unless one was written
// already, and records it. finish takes sendMu after closing TCP, so it
// never reads what was sent while a Close frame is on its way: the peer's
// answer can be read before WriteControl returns.
func (c *Conn) writeClose(deadline time.Time) error {
	d := c.end.decided
	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	if d.sent.Load() != nil {
		return nil
	}
	if !d.send {
		return errNoCloseFrame
	}
	if err := c.ws.WriteControl(websocket.CloseMessage, closePayload(d.frame.Code, d.frame.Reason), deadline); err != nil {
		return err
	}
	d.sent.Store(&d.frame)
	return nil
}

var errNoCloseFrame = errors.New("no Close frame to send")

// recordSent records a Close frame that gorilla wrote on its own.
func (c *Conn) recordSent(f *CloseFrame) {
	d := c.end.decided
	d.sendMu.Lock()
	if d.sent.Load() == nil {
		d.sent.Store(f)
	}
	d.sendMu.Unlock()
}
