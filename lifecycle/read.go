package lifecycle

import (
	"errors"
	"io"
	"sync"
)

// ReadCheck inspects each data message after it is read and before
// ReadMessage returns it. A nil result lets the message through;
// [ErrDropMessage] skips it silently; a [*CloseError] closes the connection with
// its code, reason and cause; any other error closes it with 1008 and that
// error as the cause. Checks run on the reading goroutine and must be cheap.
type ReadCheck func(mt MessageType, data []byte) error

var errTooBig = errors.New("message exceeds the read limit")

// maxPooledBuffer is the largest read buffer returned to the pool.
const maxPooledBuffer = 64 << 10

var readBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 4096)
	return &b
}}

// ReadMessage reads the next data message. Only one goroutine may read at a
// time. Pings and pongs are handled inside it, as gorilla/websocket does, so
// a connection that is never read never sees its peer's pongs or Close; see
// the timeout package's helpers for write-only handlers.
//
// Once closing has started, ReadMessage finishes the close handshake if
// nobody else is, and returns a [*CloseError].
func (c *Conn) ReadMessage() (MessageType, []byte, error) {
	if c.events.Load() != nil {
		return 0, nil, ErrEventMode
	}
	for {
		c.flags.Or(flagReading)
		if c.closingStarted() {
			c.flags.And(^uint32(flagReading))
			return 0, nil, c.readAfterClose()
		}
		mt, data, step := c.readStep()
		switch step {
		case stepMessage:
			return mt, data, nil
		case stepDropped:
			continue
		case stepClosing:
			return 0, nil, c.readAfterClose()
		default: // stepEnded
			return 0, nil, c.closeErr()
		}
	}
}

// readStep is how both read modes read one message: through gorilla (in
// event mode the message is wholly buffered, so the read cannot block),
// within the read limit, then through the read checks. It reports what
// came of it: a message for the application, one a check dropped, a close
// that started (this read's own — 1009, or a check's — or another's: the
// handshake is the reader's to finish), or the end of the connection.
func (c *Conn) readStep() (MessageType, []byte, readStepResult) {
	mt, r, err := c.nextReader()
	if err != nil {
		c.leaveReader()
		c.endRead(err)
		return 0, nil, stepEnded
	}
	if c.closingStarted() {
		c.leaveReader()
		// The handshake waits for the peer's Close; what comes before it
		// is discarded.
		if _, err := io.Copy(io.Discard, r); err != nil {
			c.endRead(err)
			return 0, nil, stepEnded
		}
		return 0, nil, stepClosing
	}
	data, err := c.readPayload(r)
	c.leaveReader()
	if err == errTooBig {
		c.closeAndDrain(localDecision(ErrMessageTooBig, StatusMessageTooBig, "message too big"))
		return 0, nil, stepClosing
	}
	if err != nil {
		c.endRead(err)
		return 0, nil, stepEnded
	}
	c.inbound.Add(1)
	if c.closingStarted() {
		return 0, nil, stepClosing
	}
	switch err := c.runChecks(MessageType(mt), data); {
	case err == nil:
		return MessageType(mt), data, stepMessage
	case errors.Is(err, ErrDropMessage):
		return 0, nil, stepDropped
	default:
		c.closeAndDrain(checkDecision(err))
		return 0, nil, stepClosing
	}
}

// readStepResult is what came of a readStep.
type readStepResult uint8

const (
	stepMessage readStepResult = iota // a message for the application
	stepDropped                       // a read check dropped the message
	stepClosing                       // closing has started: the handshake follows
	stepEnded                         // the connection has ended
)

// leaveReader marks the application's reader out of gorilla's, so that a
// close from another goroutine reads the handshake itself. In event mode
// the loop is the reader throughout.
func (c *Conn) leaveReader() {
	if c.events.Load() == nil {
		c.flags.And(^uint32(flagReading))
	}
}

func (c *Conn) runChecks(mt MessageType, data []byte) error {
	for _, check := range c.lists.checkList() {
		if err := check(mt, data); err != nil {
			return err
		}
	}
	return nil
}

// checkDecision is the close a read check's error asks for: a
// [*CloseError]'s code, reason and cause (the error itself when it names
// none), else 1008 with the error as the cause.
func checkDecision(err error) *decision {
	var ce *CloseError
	if !errors.As(err, &ce) {
		return localDecision(err, StatusPolicyViolation, "")
	}
	if ce.Cause == nil {
		return localDecision(err, ce.Code, ce.Reason)
	}
	return localDecision(ce.Cause, ce.Code, ce.Reason)
}

// readAfterClose finishes the handshake if nobody else is reading it, waits
// for the end and returns the winning cause.
func (c *Conn) readAfterClose() error {
	if c.state() < stateFinishing && c.claimFlag(flagDrainClaimed) {
		c.drain()
	}
	<-c.Done()
	return c.closeErr()
}

// readPayload reads one message through a pooled buffer, stopping one byte
// past the read limit, and returns an exactly sized copy: one allocation per
// message whatever its size.
func (c *Conn) readPayload(r io.Reader) ([]byte, error) {
	bp := readBuffers.Get().(*[]byte)
	b := (*bp)[:0]
	limit := c.settings().readLimit
	var err error
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		window := b[len(b):cap(b)]
		if limit >= 0 && int64(len(b)+len(window)) > limit+1 {
			window = window[:limit+1-int64(len(b))]
		}
		var n int
		n, err = r.Read(window)
		b = b[:len(b)+n]
		if limit >= 0 && int64(len(b)) > limit {
			err = errTooBig
			break
		}
		if err != nil {
			break
		}
	}
	var out []byte
	if err == io.EOF {
		err = nil
		out = make([]byte, len(b))
		copy(out, b)
	}
	if cap(b) <= maxPooledBuffer {
		*bp = b[:0]
		readBuffers.Put(bp)
	}
	return out, err
}

// handlePong is gorilla's pong handler.
func (c *Conn) handlePong(appData string) error {
	if !c.answeredAhead() {
		c.inbound.Add(1)
		c.pong(appData)
	}
	return nil
}

// pong handles a pong: the round trip of our ping, the addPongHook hooks.
func (c *Conn) pong(appData string) {
	c.timePong(appData)
	if c.onPong != nil {
		c.onPong(appData)
	}
}

// handlePing is gorilla's ping handler.
func (c *Conn) handlePing(appData string) error {
	if c.answeredAhead() {
		return nil
	}
	c.inbound.Add(1)
	return c.writePong(appData)
}
