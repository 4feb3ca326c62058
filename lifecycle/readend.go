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

// What ended a read, and the close it calls for: the peer's Close, a
// broken rule (the frame guard's, or a protocol error that gorilla or its
// decompressor found), or a transport that failed.

// endRead handles the error that ended the gorilla reader and ends the
// connection.
func (c *Conn) endRead(err error) {
	switch {
	case peerClosed(err):
		// The peer's Close frame, recorded by handlePeerClose.
	case c.closingStarted():
		// Already closing: the handshake ended without the peer's Close.
		// gorilla may have answered a protocol error with its own 1002.
		if gf := gorillaFrame(err); gf != nil && errors.Is(c.writeClose(time.Now().Add(abortWriteTimeout)), websocket.ErrCloseSent) {
			c.recordSent(gf)
		}
	default:
		if d := c.readFailure(err); d != nil {
			c.failWith(d)
			return
		}
		c.decide(abnormalDecision(lostConnection(err)))
	}
	c.finish()
}

// failWith ends the connection for a frame that broke the protocol or a
// budget: d's Close frame is written (or gorilla's own 1002 is what was
// sent) and the peer is given the time to read it (linger).
func (c *Conn) failWith(d *decision) {
	if c.decide(d) {
		c.carryOut(d, time.Time{}) // lingers, or closes at once, and finishes
		return
	}
	c.finish()
}

// failure is the decision for a broken rule: its Close frame, then linger.
// gorilla is the 1002 gorilla wrote on its own for it, if it did.
func failure(end *CloseError, gorilla *CloseFrame) *decision {
	return &decision{
		end:     *end,
		frame:   CloseFrame{Code: end.Code, Reason: end.Reason},
		send:    true,
		then:    linger,
		gorilla: gorilla,
	}
}

// readFailure tells what ended the reader when it was not the peer's
// Close: a broken rule, as the decision that closes for it, or nil for a
// transport that failed.
func (c *Conn) readFailure(err error) *decision {
	if f := c.guard.failure; f != nil {
		return failure(f, nil)
	}
	if gf := gorillaFrame(err); gf != nil {
		return failure(&CloseError{Code: StatusProtocolError, Reason: gf.Reason, Initiator: InitiatorLocal, Cause: fmt.Errorf("%w: %w", ErrProtocol, err)}, gf)
	}
	if c.guard.transport || isTransportError(err) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	// The transport is fine: the data was bad.
	reason := "protocol error"
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		reason = "invalid frame length" // a negative 64-bit length
	case errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "flate"):
		reason = "invalid compressed data"
	}
	return failure(&CloseError{Code: StatusProtocolError, Reason: reason, Initiator: InitiatorLocal, Cause: fmt.Errorf("%w: %w", ErrProtocol, err)}, nil)
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

// lingerLimit bounds what linger discards: enough for a flooding peer to
// stop within the close timeout (loopback queues alone hold megabytes), few
// enough that a peer pushing raw bytes at line rate costs little.
const lingerLimit = 64 << 20

// lingerAndFinish lingers, then ends the connection. In event mode the
// loop stops reading it and a goroutine of its own lingers, so that no
// worker waits.
func (c *Conn) lingerAndFinish() {
	if c.events.Load() != nil {
		c.leaveEvents()
		go func() {
			c.linger()
			c.finish()
		}()
		return
	}
	c.linger()
	c.finish()
}

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
	raw.SetReadDeadline(time.Now().Add(c.settings().closeTimeout))
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
