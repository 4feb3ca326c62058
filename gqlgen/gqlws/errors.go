package gqlws

import (
	"errors"
	"fmt"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/timeout"
)

// Subprotocols that gqlgen speaks, in the order the adapter prefers them.
const (
	// SubprotocolTransportWS is graphql-transport-ws, spoken by the npm
	// graphql-ws client (and Apollo, urql, Relay through it).
	SubprotocolTransportWS = "graphql-transport-ws"
	// SubprotocolLegacy is the legacy graphql-ws of
	// subscriptions-transport-ws. A client that offers no subprotocol gets
	// it too, as with gqlgen's own implementation.
	SubprotocolLegacy = "graphql-ws"
)

// Close codes of graphql-transport-ws that the adapter sends (see the
// package documentation for what the npm graphql-ws client does with each).
const (
	// StatusBadRequest (4400): a message that is not valid for the
	// protocol. graphql-ws treats it as fatal.
	StatusBadRequest lifecycle.StatusCode = 4400
	// StatusUnauthorized (4401): a subscription before connection_init.
	// Fatal.
	StatusUnauthorized lifecycle.StatusCode = 4401
	// StatusForbidden (4403): connection_init refused (no or bad token, a
	// revoked subject's older token, or the InitFunc's error), or, with
	// [WithReconnectOnTokenExpiry], the token expired during the session.
	// graphql-ws retries it, asking its connectionParams again.
	StatusForbidden lifecycle.StatusCode = 4403
	// StatusSubprotocolNotAcceptable (4406): the negotiated subprotocol is
	// not one gqlgen speaks. Fatal.
	StatusSubprotocolNotAcceptable lifecycle.StatusCode = 4406
	// StatusInitTimeout (4408): no connection_ack within the init timeout.
	// graphql-ws retries it.
	StatusInitTimeout = timeout.StatusInitTimeout
	// StatusTooManyInitialisationRequests (4429): a second
	// connection_init. Fatal.
	StatusTooManyInitialisationRequests lifecycle.StatusCode = 4429
	// StatusTryAgainLater (1013, RFC 6455's "Try Again Later"):
	// connection_init refused because the token's subject holds every slot
	// of a per-subject cap in front (ratelimit.MaxConns keyed by subject),
	// or because that cap's Store fails and it fails closed. graphql-ws
	// retries it with backoff, so a slot that frees up in the meantime (a
	// tab closed, the leases of a server that died expired) lets the client
	// in; when the retries run out, the error callback gets the 1013.
	StatusTryAgainLater = lifecycle.StatusTryAgainLater
)

// Causes that the adapter reports in CloseInfo.Cause, beside the core's
// and the policies' own. Timeouts use [timeout.ErrInitTimeout].
var (
	// ErrInvalidMessage: the client sent a message that is not valid for
	// the subprotocol (not JSON, no known type, a connection_init whose
	// payload is not an object), or gqlgen closed for a protocol error
	// (4400). The detail is wrapped with it.
	ErrInvalidMessage = errors.New("gqlws: invalid message")
	// ErrNotInitialised: the client subscribed before connection_init
	// (4401 Unauthorized).
	ErrNotInitialised = errors.New("gqlws: subscribe before connection_init")
	// ErrTooManyInits: a second connection_init (4429).
	ErrTooManyInits = errors.New("gqlws: too many initialisation requests")
	// ErrInitRefused: connection_init was refused, by the in-band
	// authentication or by the application's InitFunc, whose error is
	// wrapped with it (4403 unless the InitFunc chose a code).
	ErrInitRefused = errors.New("gqlws: connection_init refused")
	// ErrSubprotocol: the negotiated subprotocol is not one gqlgen speaks
	// (4406), for example a client that offered only "bearer".
	ErrSubprotocol = errors.New("gqlws: subprotocol not acceptable")
	// ErrTerminated: the legacy client sent connection_terminate (1000).
	ErrTerminated = errors.New("gqlws: client sent connection_terminate")
	// ErrTransportClosed: gqlgen's transport closed the connection for a
	// reason of its own, such as its context being cancelled; the code and
	// reason are gqlgen's.
	ErrTransportClosed = errors.New("gqlws: closed by the gqlgen transport")
	// ErrTransportReturned: gqlgen's handler returned without closing the
	// connection, or without accepting it (1011 "internal error").
	ErrTransportReturned = errors.New("gqlws: transport returned without closing the connection")
	// ErrPongTimeout: gqlgen's PingPongInterval got no pong by its read
	// deadline. It matches [timeout.ErrPongTimeout] too.
	ErrPongTimeout = fmt.Errorf("gqlws: no pong by the transport's read deadline: %w", timeout.ErrPongTimeout)
	// ErrNotWrapped is returned by Accept for a request that did not pass
	// through [Adapter.Handler]: gqlgen then answers 400.
	ErrNotWrapped = errors.New("wsmw/gqlws: wrap the gqlgen handler with Adapter.Handler")
)
