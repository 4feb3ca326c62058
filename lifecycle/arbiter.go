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
	end       *CloseError   // what CloseInfo will report
	send      *CloseFrame   // the Close frame to write, nil for none
	wait      bool          // wait for the peer's Close before closing TCP
	sendLimit time.Duration // write deadline of the Close frame
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
// code that may not be sent (1005, 1006, 1015, outside 1000-4999) becomes a
// Close frame without a status; the reason is cut to 123 bytes.
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
	if c.decision.Load() != nil {
		return false // lost already: build no request
	}
	req := localRequest(cause, code, reason)
	if !c.decide(req.end) {
		return false
	}
	go c.carryOut(req, true)
	return true
}

// startClose starts a local close and returns as soon as the Close frame is
// written; the handshake, if nobody is reading, finishes in a new goroutine.
// The Registry uses it to close many connections without waiting on each
// handshake while bounding how many frames are written at once (unlike
// CloseAsync, whose frame is written in a goroutine of its own).
func (c *Conn) startClose(cause error, code StatusCode, reason string) bool {
	return c.beginLocal(cause, code, reason, false)
}

// beginLocal runs a local close request, building it only when closing has
// not started yet: losing a race costs no allocation.
func (c *Conn) beginLocal(cause error, code StatusCode, reason string, inline bool) bool {
	if c.decision.Load() != nil {
		return false
	}
	return c.begin(localRequest(cause, code, reason), inline)
}

// kill closes TCP at once. The end is reported by whoever was closing, or as
// abnormal with cause if nobody was.
func (c *Conn) kill(cause error) {
	c.decide(&CloseError{Code: StatusAbnormalClosure, Initiator: InitiatorAbnormal, Cause: cause})
	c.finish()
}

// decide records end as the winning cause if nothing has won yet.
func (c *Conn) decide(end *CloseError) bool {
	if !c.decision.CompareAndSwap(nil, end) {
		return false
	}
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
	if !c.decide(req.end) {
		return false
	}
	c.carryOut(req, inline)
	return true
}

// carryOut runs a close request that has won: it writes the Close frame,
// then hands the wait for the peer's Close to whoever reads, or ends now.
func (c *Conn) carryOut(req closeRequest, inline bool) {
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
		if !c.writeClose(req.send, sendDeadline) {
			req.wait = false // no handshake without our frame
		}
	}
	if !req.wait {
		c.finish()
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
		_, r, err := c.ws.NextReader()
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
// arrives. gorilla has already rejected invalid codes and reasons (1002).
func (c *Conn) handlePeerClose(code int, text string) error {
	c.inbound.Add(1)
	frame := &CloseFrame{Code: StatusCode(code), Reason: text}
	c.received.Store(frame)
	if c.decide(&CloseError{Code: frame.Code, Reason: text, Initiator: InitiatorPeer, Cause: ErrPeerClosed}) {
		c.writeClose(&CloseFrame{Code: frame.Code}, time.Now().Add(c.closeTimeout))
	}
	return nil
}

// writeClose writes our one Close frame and records it. finish takes
// sendMu after closing TCP, so it never reads c.sent while a Close frame is
// on its way: the peer's answer can be read before WriteControl returns.
func (c *Conn) writeClose(f *CloseFrame, deadline time.Time) bool {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.ws.WriteControl(websocket.CloseMessage, closePayload(f.Code, f.Reason), deadline) != nil {
		return false
	}
	c.sent.Store(f)
	return true
}

// readEnded handles the error that ended the gorilla reader and ends the
// connection.
func (c *Conn) readEnded(err error) {
	switch {
	case peerClosed(err):
		// The peer's Close frame, recorded by handlePeerClose.
	case c.decision.Load() != nil:
		// Already closing: the handshake ended without the peer's Close.
	case isTransportError(err):
		c.decide(&CloseError{Code: StatusAbnormalClosure, Initiator: InitiatorAbnormal, Cause: lostConnection(err)})
	default:
		// gorilla found a protocol violation and wrote 1002 itself.
		reason := TruncateReason(strings.TrimPrefix(err.Error(), "websocket: "))
		if c.decide(&CloseError{Code: StatusProtocolError, Reason: reason, Initiator: InitiatorLocal, Cause: fmt.Errorf("%w: %w", ErrProtocol, err)}) {
			c.sent.Store(&CloseFrame{Code: StatusProtocolError, Reason: reason})
			c.linger()
		}
	}
	c.finish()
}

// lingerLimit bounds what linger discards.
const lingerLimit = 1 << 20

// linger half-closes TCP and discards what the peer still sends, until it
// closes, the close timeout or lingerLimit bytes. gorilla's reader is dead
// after a protocol error, but the peer may be mid-frame: closing with unread
// bytes makes the kernel reset the connection, and the reset can destroy
// the 1002 before the peer reads it.
func (c *Conn) linger() {
	nc := c.ws.NetConn()
	if hc, ok := nc.(interface{ CloseWrite() error }); ok {
		hc.CloseWrite() // our 1002, then FIN
	}
	nc.SetReadDeadline(time.Now().Add(c.closeTimeout))
	io.Copy(io.Discard, io.LimitReader(nc, lingerLimit))
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
	c.ws.NetConn().Close()
	c.sendMu.Lock() // after a Close frame being written (it fails fast now)
	sent := c.sent.Load()
	c.sendMu.Unlock()
	end := c.decision.Load()
	info := &CloseInfo{
		Code:      end.Code,
		Reason:    end.Reason,
		Initiator: end.Initiator,
		Cause:     end.Cause,
		Sent:      sent,
		Received:  c.received.Load(),
		Duration:  c.sinceOpen(),
	}
	info.HandshakeComplete = info.Sent != nil && info.Received != nil

	c.mu.Lock()
	c.info = info
	hooks := c.onClose
	c.onClose = nil
	c.hooksTaken = true
	reg := c.reg
	if reg != nil {
		reg.remove(c, c.subject)
	}
	c.mu.Unlock()

	for _, h := range hooks {
		c.runHook(h, *info)
	}
	c.mu.Lock()
	c.ended = true
	if c.waiters != nil && c.waiters.done != nil {
		close(c.waiters.done)
	}
	c.mu.Unlock()
	if reg != nil {
		reg.ended()
	}
}

// closeErr returns the winning cause as an error.
func (c *Conn) closeErr() error {
	if end := c.decision.Load(); end != nil {
		return end
	}
	return nil
}
