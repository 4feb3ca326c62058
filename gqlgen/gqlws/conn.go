package gqlws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/ratelimit"
	"github.com/wsmw/wsmw/timeout"
)

// conn is gqlgen's WebsocketConn on a wsmw Conn. gqlgen reads from one
// goroutine (its handler's) and writes, serialized by its own mutex, from
// several; every close it asks for goes through the arbiter.
type conn struct {
	a      *Adapter
	c      *lifecycle.Conn
	proto  string
	legacy bool

	cancel    context.CancelCauseFunc // cancels gqlgen's context (Adapter.serve)
	acked     atomic.Bool             // connection_ack was written
	initTimer lifecycle.Timer
	deadline  lifecycle.Timer // gqlgen's read deadline (PingPongInterval)

	// Protocol state, for the read check and for naming gqlgen's closes.
	mu       sync.Mutex
	inits    int    // connection_init messages read
	lastType string // type of the last message read
	initErr  error  // why connection_init was refused, set by InitFunc
}

var (
	_ transport.WebsocketConn          = (*conn)(nil)
	_ transport.WebsocketReadLimiter   = (*conn)(nil)
	_ transport.WebsocketReadDeadliner = (*conn)(nil)
)

// newConn takes c over for gqlgen, right after the upgrade and before
// anyone reads: it adds the protocol check, sets the close of an expired
// token ([WithReconnectOnTokenExpiry]) and starts the init timer.
func (a *Adapter) newConn(c *lifecycle.Conn) *conn {
	wc := &conn{a: a, c: c, proto: c.Subprotocol()}
	wc.legacy = wc.proto != SubprotocolTransportWS
	c.AddReadCheck(wc.check)
	if a.reconnect {
		policy.SetExpiryClose(c, StatusForbidden, "Forbidden: token expired")
	}
	if a.initTimeout > 0 {
		c.StartTimer(&wc.initTimer, a.initTimeout-time.Since(connx.OpenedAt(c)), wc.initExpired)
	}
	return wc
}

func (wc *conn) initExpired() {
	if !wc.acked.Load() {
		wc.c.CloseWith(timeout.ErrInitTimeout, StatusInitTimeout, "connection initialisation timeout")
	}
}

// NextReader returns the next message. A close that was not a failure (the
// peer's 1000, 1001 or 1005, or any close decided on this side) reads as an
// error that matches [transport.ErrWebsocketClosed], so gqlgen does not
// report it to its ErrorFunc; every read error after the start of the close
// also matches [*lifecycle.CloseError] (errors.As) with the true cause.
func (wc *conn) NextReader() (int, io.Reader, error) {
	mt, data, err := wc.c.ReadMessage()
	if err != nil {
		// Before gqlgen learns of the end, so that its context and every
		// subscription's carry the true cause, not its own cancellation.
		if wc.cancel != nil {
			wc.cancel(err)
		}
		return 0, nil, closedErr(err)
	}
	return int(mt), bytes.NewReader(data), nil
}

// WriteJSON writes v as one text message. While the client is not yet
// acknowledged it watches for connection_ack: that stops the init timer,
// and, with in-band authentication, is refused (4403) on a connection that
// nobody authenticated, so that a gqlgen set up without the adapter's
// InitFunc fails closed.
func (wc *conn) WriteJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if !wc.acked.Load() && messageType(b) == "connection_ack" {
		if wc.a.auth != nil && auth.ClaimsOf(wc.c) == nil {
			wc.a.log.Error("wsmw/gqlws: connection_ack on an unauthenticated connection; set the transport up with Adapter.Websocket or Adapter.InitFunc")
			connx.CloseAsync(wc.c, fmt.Errorf("%w: %w", ErrInitRefused, auth.ErrTokenMissing), StatusForbidden, "Forbidden")
			return closedErr(context.Cause(wc.c.Context()))
		}
		wc.acked.Store(true)
		wc.initTimer.Stop()
	}
	if err := wc.c.WriteMessage(lifecycle.TextMessage, b); err != nil {
		return closedErr(err)
	}
	timeout.Touch(wc.c) // outbound activity, for IdleTimeout with CountOutbound
	return nil
}

// WriteClose is gqlgen asking to close. Only the first close wins; gqlgen's
// codes are turned into graphql-transport-ws's where gqlgen's are wrong
// (see the package documentation), and the cause says what happened.
func (wc *conn) WriteClose(code int, reason string) error {
	if wc.c.Err() != nil {
		return nil
	}
	sc, reason, cause := wc.classify(lifecycle.StatusCode(code), reason)
	connx.CloseAsync(wc.c, cause, sc, reason)
	return nil
}

// classify names a close that gqlgen asked for.
func (wc *conn) classify(code lifecycle.StatusCode, reason string) (lifecycle.StatusCode, string, error) {
	wc.mu.Lock()
	initErr, last := wc.initErr, wc.lastType
	wc.mu.Unlock()
	switch {
	case initErr != nil:
		if code == lifecycle.StatusNormalClosure && reason == "terminated" {
			// gqlgen's default for an InitFunc error, which graphql-ws
			// would silently retry.
			code, reason = StatusForbidden, "Forbidden"
		}
		return code, reason, fmt.Errorf("%w: %w", ErrInitRefused, initErr)
	case code == lifecycle.StatusProtocolError:
		return StatusBadRequest, reason, fmt.Errorf("%w: %s", ErrInvalidMessage, reason)
	case code == lifecycle.StatusNormalClosure && last == "connection_terminate":
		return code, reason, ErrTerminated
	}
	return code, reason, ErrTransportClosed
}

// Close ends the connection if nobody has (1000, cause [ErrTransportClosed])
// and waits for the end: the close handshake and the OnClose hooks.
func (wc *conn) Close() error {
	if !(wc.c.Err() != nil) {
		connx.CloseAsync(wc.c, ErrTransportClosed, lifecycle.StatusNormalClosure, "")
	}
	<-wc.c.Done()
	return nil
}

// Subprotocol returns the negotiated subprotocol.
func (wc *conn) Subprotocol() string { return wc.proto }

// SetReadLimit is gqlgen's PayloadReadLimit: the stricter of it and wsmw's
// limit (MaxMessageSize, the Upgrader's read limit) applies.
func (wc *conn) SetReadLimit(n int64) {
	if n <= 0 {
		return
	}
	if cur := connx.ReadLimit(wc.c); cur >= 0 && cur <= n {
		return
	}
	connx.SetReadLimit(wc.c, n)
}

// SetReadDeadline is gqlgen's pong deadline (PingPongInterval): when it
// passes, the peer is taken for dead as by wsmw's Heartbeat — a
// best-effort Close 1001 "keepalive ping timeout", reported as 1006
// abnormal with cause [ErrPongTimeout]. The zero time clears it.
func (wc *conn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		wc.deadline.Stop()
		return nil
	}
	wc.c.StartTimer(&wc.deadline, time.Until(t), wc.deadlinePassed)
	return nil
}

func (wc *conn) deadlinePassed() {
	connx.Abort(wc.c, ErrPongTimeout, lifecycle.StatusGoingAway, "keepalive ping timeout")
}

// closedErr maps a read or write error after the start of the close: an
// end that is no failure also matches [transport.ErrWebsocketClosed].
func closedErr(err error) error {
	var ce *lifecycle.CloseError
	if !errors.As(err, &ce) {
		return err
	}
	switch {
	case ce.Initiator == lifecycle.InitiatorLocal,
		ce.Initiator == lifecycle.InitiatorPeer && (ce.Code == lifecycle.StatusNormalClosure ||
			ce.Code == lifecycle.StatusGoingAway || ce.Code == lifecycle.StatusNoStatusRcvd):
		return closedError{ce}
	}
	return err
}

// closedError is a [*lifecycle.CloseError] that is also
// [transport.ErrWebsocketClosed].
type closedError struct{ ce *lifecycle.CloseError }

func (e closedError) Error() string   { return e.ce.Error() }
func (e closedError) Unwrap() []error { return []error{transport.ErrWebsocketClosed, e.ce} }

// envelope is a client message as gqlgen decodes it.
type envelope struct {
	Payload json.RawMessage `json:"payload,omitempty"`
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
}

// messageType returns the type of a JSON message, "" if it has none.
func messageType(b []byte) string {
	var m struct {
		Type string `json:"type"`
	}
	json.Unmarshal(b, &m)
	return m.Type
}

var clientTypes = map[bool]map[string]bool{
	false: {"connection_init": true, "subscribe": true, "complete": true, "ping": true, "pong": true},
	true:  {"connection_init": true, "connection_terminate": true, "start": true, "stop": true},
}

// check runs on every message before gqlgen sees it, and closes, with the
// code graphql-transport-ws prescribes, for what gqlgen would mishandle: a
// message gqlgen cannot decode or whose type it does not know (it would
// stop reading and close 1000 later), a connection_init whose payload is
// not an object (it would return without closing), a second
// connection_init (4429), a subscription before connection_init (4401).
func (wc *conn) check(_ lifecycle.MessageType, data []byte) error {
	var m envelope
	if err := json.Unmarshal(data, &m); err != nil {
		return wc.reject(ErrInvalidMessage, StatusBadRequest, "Invalid message")
	}
	if !clientTypes[wc.legacy][m.Type] {
		return wc.reject(fmt.Errorf("%w: type %.32q", ErrInvalidMessage, m.Type), StatusBadRequest, "Invalid message type")
	}
	wc.mu.Lock()
	defer wc.mu.Unlock()
	wc.lastType = m.Type
	switch m.Type {
	case "connection_init":
		wc.inits++
		if wc.inits > 1 {
			return &lifecycle.CloseError{Code: StatusTooManyInitialisationRequests, Reason: "Too many initialisation requests", Cause: ErrTooManyInits}
		}
		if p := bytes.TrimSpace(m.Payload); len(p) > 0 && p[0] != '{' && !bytes.Equal(p, []byte("null")) {
			return &lifecycle.CloseError{Code: StatusBadRequest, Reason: "Invalid connection_init payload", Cause: fmt.Errorf("%w: connection_init payload is not an object", ErrInvalidMessage)}
		}
	case "subscribe", "start", "complete", "stop":
		if wc.inits == 0 {
			return &lifecycle.CloseError{Code: StatusUnauthorized, Reason: "Unauthorized", Cause: ErrNotInitialised}
		}
	}
	return nil
}

func (wc *conn) reject(cause error, code lifecycle.StatusCode, reason string) error {
	return &lifecycle.CloseError{Code: code, Reason: reason, Cause: cause}
}

// refused records why connection_init was refused, for the close that
// gqlgen asks for next.
func (wc *conn) refused(err error) {
	wc.mu.Lock()
	wc.initErr = err
	wc.mu.Unlock()
}

// describe returns a short, token-free text for a refused init.
func describe(err error) string {
	var te *auth.TokenError
	switch {
	case errors.As(err, &te):
		return te.Description
	case errors.Is(err, auth.ErrTokenMissing):
		return "no token"
	case errors.Is(err, auth.ErrSubjectMismatch), errors.Is(err, ratelimit.ErrSubjectChange):
		return "another subject"
	case errors.Is(err, ratelimit.ErrNoSubject):
		return "token has no subject"
	}
	return ""
}
