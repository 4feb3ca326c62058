package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// closeRequest is one cause asking the arbiter to end the connection.
type closeRequest struct {
	end       *CloseError   // what the decision reports
	send      *CloseFrame   // the Close frame to write, nil for none
	wait      bool          // wait for the peer's Close before closing TCP
	sendLimit time.Duration // bounds the Close frame's write when set
}

func localRequest(cause error, code StatusCode, reason string) closeRequest {
	if !code.Sendable() {
		code, reason = StatusNoStatusRcvd, "" // an empty Close frame
	} else {
		reason = TruncateReason(reason)
	}
	return closeRequest{
		end:  &CloseError{Code: code, Reason: reason, Initiator: InitiatorLocal, Cause: cause},
		send: &CloseFrame{Code: code, Reason: reason},
		wait: true,
	}
}

// Close starts the close handshake with code and reason, as the
// application's own decision (cause ErrApplicationClose). See CloseWith.
func (c *Conn) Close(code StatusCode, reason string) error {
	return c.CloseWith(ErrApplicationClose, code, reason)
}

// CloseWith starts the close handshake with code and reason and records
// cause as the reason for the end (errors.Is works on CloseInfo.Cause). A
// code that may not be sent (1005, 1006, 1014, 1015, outside 1000-4999)
// becomes a Close frame without a status; the reason is cut to 123 bytes.
//
// Only the first close takes effect: CloseWith returns nil when it won, and
// otherwise the winner's *CloseError at once. It returns once the Close frame
// is written; if no other goroutine was reading, it also waits for the
// peer's Close (at most the close timeout) and for the end. Use Wait or Done
// to wait for the end in every case.
func (c *Conn) CloseWith(cause error, code StatusCode, reason string) error {
	if cause == nil {
		cause = ErrApplicationClose
	}
	if !c.beginLocal(cause, code, reason, true) {
		return c.closeErr()
	}
	return nil
}

// Abort ends the connection without waiting for the peer: it writes a
// best-effort Close frame with code and reason (none when code is not
// Sendable) under a short deadline, closes TCP, and reports the end as
// abnormal, 1006, with reason and cause. It is meant for peers that are gone
// or broken, such as a missed heartbeat. It reports whether it won.
func (c *Conn) Abort(cause error, code StatusCode, reason string) bool {
	reason = TruncateReason(reason)
	req := closeRequest{
		end:       &CloseError{Code: StatusAbnormalClosure, Reason: reason, Initiator: InitiatorAbnormal, Cause: cause},
		sendLimit: abortWriteTimeout,
	}
	if code.Sendable() {
		req.send = &CloseFrame{Code: code, Reason: reason}
	}
	return c.begin(req, true)
}

// CloseAsync is CloseWith that never waits: the cause wins (or loses) at
// once, and the Close frame and the handshake are carried out in a new
// goroutine. Use it where the caller must not block, such as a send queue
// that overflows while a write to the same peer is stuck. It reports
// whether this cause won.
func (c *Conn) CloseAsync(cause error, code StatusCode, reason string) bool {
	if cause == nil {
		cause = ErrApplicationClose
	}
	req, ok := c.decideLocal(cause, code, reason)
	if !ok {
		return false
	}
	go c.carryOut(req, true, time.Time{})
	return true
}

// startClose starts a local close and returns as soon as the Close frame is
// written; the handshake, if nobody is reading, finishes in a new goroutine.
func (c *Conn) startClose(cause error, code StatusCode, reason string) bool {
	return c.beginLocal(cause, code, reason, false)
}

// beginLocal runs a local close request, building it only when closing has
// not started yet: losing a race costs no allocation.
func (c *Conn) beginLocal(cause error, code StatusCode, reason string, inline bool) bool {
	req, ok := c.decideLocal(cause, code, reason)
	if ok {
		c.carryOut(req, inline, time.Time{})
	}
	return ok
}

// decideLocal makes a local close the decision, if nothing has won yet.
func (c *Conn) decideLocal(cause error, code StatusCode, reason string) (closeRequest, bool) {
	if c.decision.Load() != nil {
		return closeRequest{}, false
	}
	req := localRequest(cause, code, reason)
	return req, c.decide(req.end, req.send)
}

// kill closes TCP at once. The end is reported by whoever was closing, or as
// abnormal with cause if nobody was.
func (c *Conn) kill(cause error) {
	c.decide(&CloseError{Code: StatusAbnormalClosure, Initiator: InitiatorAbnormal, Cause: cause}, nil)
	c.finish()
}

// decide records end as the winning cause if nothing has won yet, with the
// Close frame that goes with it (nil for none).
func (c *Conn) decide(end *CloseError, frame *CloseFrame) bool {
	if !c.decision.CompareAndSwap(nil, end) {
		return false
	}
	c.toSend.Store(frame)
	c.mu.Lock()
	if c.waiters != nil && c.waiters.cancel != nil {
		c.waiters.cancel(end)
	}
	c.stopTimersLocked()
	c.mu.Unlock()
	return true
}

// begin runs a close request: decide, then carry it out.
func (c *Conn) begin(req closeRequest, inline bool) bool {
	if !c.decide(req.end, req.send) {
		return false
	}
	c.carryOut(req, inline, time.Time{})
	return true
}

// carryOut runs a close request that has won: it writes the Close frame,
// then hands the wait for the peer's Close to whoever reads, or ends now.
// The handshake is bounded by the close timeout; the Close frame's write
// also by limit when it is set (the Registry sets it from its caller's
// context, whose deadline then ends what is left).
func (c *Conn) carryOut(req closeRequest, inline bool, limit time.Time) {
	deadline := time.Now().Add(c.closeTimeout)
	if req.wait {
		// Bounds the reader, whoever it is, before anyone looks at it.
		c.ws.NetConn().SetReadDeadline(deadline)
	}
	if req.send != nil {
		sendDeadline := deadline
		if req.sendLimit > 0 {
			sendDeadline = time.Now().Add(req.sendLimit)
		}
		if !limit.IsZero() && limit.Before(sendDeadline) {
			sendDeadline = limit
		}
		if c.writeClose(sendDeadline) != nil {
			req.wait = false // no handshake without our frame
		}
	}
	if !req.wait {
		c.finish()
		return
	}
	if c.events.Load() != nil {
		c.armHandshake(deadline) // the peer's Close comes as an event
		return
	}
	// The reading flag and the decision are both sequentially consistent
	// atomics: either the reader sees the decision after leaving the gorilla
	// reader, or we see that nobody is reading; whoever claims the drain
	// reads until the peer's Close.
	if !c.hasFlag(flagReading) && c.claimFlag(flagDrainClaimed) {
		if inline {
			c.drain()
		} else {
			go c.drain()
		}
	}
}

// drain reads and discards until the peer's Close, the deadline or an
// error, then ends the connection.
func (c *Conn) drain() {
	for {
		_, r, err := c.nextReader()
		if err != nil {
			c.readEnded(err)
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			c.readEnded(err)
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
	c.received.Store(frame)
	c.decide(&CloseError{Code: frame.Code, Reason: text, Initiator: InitiatorPeer, Cause: ErrPeerClosed}, &CloseFrame{Code: frame.Code})
	c.writeClose(time.Now().Add(c.closeTimeout))
	return nil
}

// writeClose writes the decided Close frame, unless one was written
// already, and records it. finish takes sendMu after closing TCP, so it
// never reads c.sent while a Close frame is on its way: the peer's answer
// can be read before WriteControl returns.
func (c *Conn) writeClose(deadline time.Time) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.sent.Load() != nil {
		return nil
	}
	f := c.toSend.Load()
	if f == nil {
		return errNoCloseFrame
	}
	if err := c.ws.WriteControl(websocket.CloseMessage, closePayload(f.Code, f.Reason), deadline); err != nil {
		return err
	}
	c.sent.Store(f)
	return nil
}

var errNoCloseFrame = errors.New("no Close frame to send")

// readEnded handles the error that ended the gorilla reader and ends the
// connection.
func (c *Conn) readEnded(err error) {
	switch {
	case peerClosed(err):
		// The peer's Close frame, recorded by handlePeerClose.
	case c.decision.Load() != nil:
		// Already closing: the handshake ended without the peer's Close.
		// gorilla may have answered a protocol error with its own 1002.
		if gf := gorillaFrame(err); gf != nil && errors.Is(c.writeClose(time.Now().Add(abortWriteTimeout)), websocket.ErrCloseSent) {
			c.recordSent(gf)
		}
	default:
		if end, gf := c.readFailure(err); end != nil {
			if c.failRead(end, gf) {
				return // lingering in a goroutine of its own, which finishes
			}
		} else {
			c.decide(&CloseError{Code: StatusAbnormalClosure, Initiator: InitiatorAbnormal, Cause: lostConnection(err)}, nil)
		}
	}
	c.finish()
}

// readFailure tells what ended the reader when it was not the peer's
// Close: a broken rule (the guard's own, or a protocol error that gorilla
// or its decompressor found), with the Close frame gorilla may have written
// for it, or nil for a transport that failed.
func (c *Conn) readFailure(err error) (*CloseError, *CloseFrame) {
	if f := c.guard.failure; f != nil {
		return f, nil
	}
	if gf := gorillaFrame(err); gf != nil {
		return &CloseError{Code: StatusProtocolError, Reason: gf.Reason, Initiator: InitiatorLocal, Cause: fmt.Errorf("%w: %w", ErrProtocol, err)}, gf
	}
	if c.guard.transport || isTransportError(err) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, nil
	}
	// The transport is fine: the data was bad.
	reason := "protocol error"
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		reason = "invalid frame length" // a negative 64-bit length
	case errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "flate"):
		reason = "invalid compressed data"
	}
	return &CloseError{Code: StatusProtocolError, Reason: reason, Initiator: InitiatorLocal, Cause: fmt.Errorf("%w: %w", ErrProtocol, err)}, nil
}

// gorillaFrame returns the 1002 Close frame gorilla writes on its own for
// a protocol error it finds (handleProtocolError: the error's text after
// "websocket: ", cut to fit the frame), nil for any other error.
func gorillaFrame(err error) *CloseFrame {
	if err == nil || errors.Is(err, websocket.ErrReadLimit) || errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	if _, ok := find[*websocket.CloseError](err); ok {
		return nil
	}
	msg, ok := strings.CutPrefix(err.Error(), "websocket: ")
	if !ok || strings.Contains(msg, "flate") {
		return nil
	}
	if len(msg) > MaxReasonBytes {
		msg = msg[:MaxReasonBytes] // gorilla cuts bytes, not runes; its texts are ASCII
	}
	return &CloseFrame{Code: StatusProtocolError, Reason: msg}
}

// failRead ends the connection for a frame that broke the protocol or a
// budget: its Close frame is written, unless gorilla wrote its own 1002
// already (then that one is what was sent), and the peer is given the time
// to read it (linger). In event mode a goroutine of its own lingers and
// finishes, so that no worker waits: failRead reports that it does.
func (c *Conn) failRead(end *CloseError, gorilla *CloseFrame) bool {
	if !c.decide(end, &CloseFrame{Code: end.Code, Reason: end.Reason}) {
		return false
	}
	err := c.writeClose(time.Now().Add(c.closeTimeout))
	if errors.Is(err, websocket.ErrCloseSent) && gorilla != nil {
		c.recordSent(gorilla)
	}
	if c.sent.Load() == nil {
		return false
	}
	if c.events.Load() != nil {
		c.leaveEvents()
		go func() {
			c.linger()
			c.finish()
		}()
		return true
	}
	c.linger()
	return false
}

// recordSent records a Close frame that gorilla wrote on its own.
func (c *Conn) recordSent(f *CloseFrame) {
	c.sendMu.Lock()
	if c.sent.Load() == nil {
		c.sent.Store(f)
	}
	c.sendMu.Unlock()
}

// lingerLimit bounds what linger discards: enough for a flooding peer to
// stop within the close timeout (loopback queues alone hold megabytes), few
// enough that a peer pushing raw bytes at line rate costs little.
const lingerLimit = 64 << 20

// linger half-closes TCP and discards what the peer still sends, until it
// closes, the close timeout or lingerLimit bytes. gorilla's reader is dead
// after a protocol error or a broken budget, but the peer may be mid-frame
// or still flooding: closing with unread bytes makes the kernel reset the
// connection, and the reset destroys the Close frame in the peer's receive
// queue if the peer has not read it yet.
func (c *Conn) linger() {
	nc := c.ws.NetConn()
	if hc, ok := nc.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite() // our Close frame, then FIN
	}
	raw := nc
	if g, ok := nc.(*frameGuard); ok {
		raw = g.Conn // past the guard: its verdict is given
	}
	raw.SetReadDeadline(time.Now().Add(c.closeTimeout))
	io.Copy(io.Discard, io.LimitReader(raw, lingerLimit))
}

// peerClosed reports whether gorilla's read error is the peer's Close
// frame.
func peerClosed(err error) bool {
	ce, ok := find[*websocket.CloseError](err)
	return ok && ce.Code != websocket.CloseAbnormalClosure
}

func isTransportError(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	if _, ok := find[net.Error](err); ok {
		return true
	}
	ce, ok := find[*websocket.CloseError](err)
	return ok && ce.Code == websocket.CloseAbnormalClosure
}

// find is errors.As without its allocation, for the chains of single
// wrapping that gorilla and net return; it runs on every connection's end.
func find[E error](err error) (E, bool) {
	for err != nil {
		if e, ok := err.(E); ok {
			return e, true
		}
		err = errors.Unwrap(err)
	}
	var zero E
	return zero, false
}

// finish closes TCP, settles the CloseInfo, leaves the Registry and runs the
// OnClose hooks; only its first call does anything.
func (c *Conn) finish() {
	if !c.claimFlag(flagFinished) {
		return
	}
	c.leaveEvents() // before the socket closes: its descriptor may be reused
	c.ws.NetConn().Close()
	c.sendMu.Lock() // after a Close frame being written (it fails fast now)
	sent := c.sent.Load()
	c.sendMu.Unlock()
	info := settle(c.decision.Load(), sent, c.received.Load())
	info.Duration = c.sinceOpen()

	c.mu.Lock()
	c.waitersLocked().info = info
	hooks := c.onClose
	c.onClose = nil
	c.hooksTaken = true
	reg := c.reg
	if reg != nil {
		reg.remove(c, c.subjectLocked())
	}
	c.mu.Unlock()

	for _, h := range hooks {
		c.runHook(h, info)
	}
	c.mu.Lock()
	c.ended = true
	if c.waiters != nil && c.waiters.done != nil {
		close(c.waiters.done)
	}
	c.mu.Unlock()
	if reg != nil {
		reg.ended(c)
	}
}

// settle turns the decision and the frames that went over the wire into
// the CloseInfo: what it reports is what the wire carried. A local close
// whose Close frame could not be written is reported as what happened
// instead: the peer's close when its Close frame arrived (the two crossed,
// and ours never left), otherwise the abnormal end it was (1006, with the
// reason and cause of the close that was asked for).
func settle(end *CloseError, sent, received *CloseFrame) CloseInfo {
	info := CloseInfo{
		Code:      end.Code,
		Reason:    end.Reason,
		Initiator: end.Initiator,
		Cause:     end.Cause,
		Sent:      sent,
		Received:  received,
	}
	if end.Initiator == InitiatorLocal {
		switch {
		case sent == nil && received != nil:
			info.Code, info.Reason, info.Initiator, info.Cause = received.Code, received.Reason, InitiatorPeer, ErrPeerClosed
		case sent == nil:
			info.Code, info.Initiator = StatusAbnormalClosure, InitiatorAbnormal
		case sent.Code != end.Code || sent.Reason != end.Reason:
			info.Code, info.Reason = sent.Code, sent.Reason // gorilla's own 1002 went first
		}
	}
	info.HandshakeComplete = sent != nil && received != nil
	return info
}

// closeErr returns the winning cause as an error.
func (c *Conn) closeErr() error {
	if end := c.decision.Load(); end != nil {
		return end
	}
	return nil
}
