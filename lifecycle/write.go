package lifecycle

import (
	"errors"
	"net"
	"time"

	"github.com/gorilla/websocket"
)

// WriteMessage writes one data message. It is safe to call from any
// goroutine; writes are serialized. Once closing has started it returns a
// [*CloseError]. A write that fails ends the connection: a timeout (see
// setWriteTimeout) with cause [ErrWriteTimeout], any other error as a lost
// connection.
func (c *Conn) WriteMessage(mt MessageType, data []byte) error {
	if c.closingStarted() {
		return c.closeErr()
	}
	c.writeMu.Lock()
	// Counted before the write: once the peer has the message the
	// connection may end, and its OnClose hooks must see the count.
	c.outbound.Add(1)
	c.outboundBytes.Add(uint64(len(data)))
	// The frame guard gives each data frame the write timeout as gorilla
	// sets its deadline.
	err := c.ws.WriteMessage(int(mt), data)
	c.writeMu.Unlock()
	if err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// Ping writes a ping control frame with data (at most 125 bytes), which must
// be written by deadline. Pongs arrive through addPongHook, and only while some
// goroutine reads; a pong that echoes the last ping's data (of at most 16
// bytes) gives the round-trip time (RTT, OnRTT). A ping that cannot be written in time returns the timeout
// error and leaves the decision to the caller (the heartbeat treats it as a
// dead peer; if part of the frame reached the network, gorilla fails every
// later write anyway); any other failure ends the connection.
func (c *Conn) Ping(data []byte, deadline time.Time) error {
	if c.closingStarted() {
		return c.closeErr()
	}
	c.guard.owePong() // before the write: the pong can arrive before it returns
	c.notePing(data)
	err := c.ws.WriteControl(websocket.PingMessage, data, deadline)
	if err == nil {
		return nil
	}
	if isTimeout(err) {
		return err
	}
	return c.writeFailed(err)
}

func (c *Conn) writePong(appData string) error {
	err := c.ws.WriteControl(websocket.PongMessage, []byte(appData), time.Now().Add(c.settings().closeTimeout))
	if err == nil || errors.Is(err, websocket.ErrCloseSent) || isTimeout(err) {
		return nil
	}
	return err
}

// writeFailed ends the connection after a failed write and returns the
// error to give the caller.
func (c *Conn) writeFailed(err error) error {
	if !c.closingStarted() {
		switch {
		case errors.Is(err, websocket.ErrCloseSent):
			// gorilla wrote a Close on its own (a protocol error); the
			// reader reports it.
			return err
		case isTimeout(err):
			c.abort(ErrWriteTimeout, 0, "write timeout")
		default:
			c.kill(lostConnection(err))
		}
	}
	return c.closeErr()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
