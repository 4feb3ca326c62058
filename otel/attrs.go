package otel

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/wsmw/wsmw/internal/observe"
	"github.com/wsmw/wsmw/lifecycle"
)

// Attribute keys of their own: OpenTelemetry's semantic conventions have
// none for WebSocket, so facts of the protocol go under websocket. and
// wsmw's own under wsmw. (the package documentation lists them).
const (
	keyCloseCode         = attribute.Key("websocket.close.code")
	keyCloseReason       = attribute.Key("websocket.close.reason")
	keyCloseInitiator    = attribute.Key("websocket.close.initiator")
	keyHandshakeComplete = attribute.Key("websocket.close.handshake_complete")
	keyMessagesReceived  = attribute.Key("websocket.messages.received")
	keyMessagesSent      = attribute.Key("websocket.messages.sent")
	keyBytesReceived     = attribute.Key("websocket.bytes.received")
	keyBytesSent         = attribute.Key("websocket.bytes.sent")
	keySubprotocol       = attribute.Key("websocket.subprotocol")
	keyCloseCause        = attribute.Key("wsmw.close.cause")
	keyDecisionReason    = attribute.Key("wsmw.decision.reason")
	keySpanPeriod        = attribute.Key("wsmw.span.period")
)

// Span and event names.
const (
	spanName      = "websocket"
	eventOpen     = "wsmw.open"
	eventClose    = "wsmw.close"
	eventDecision = "wsmw." // + the decision's name
)

// spanNameOf is the name of a connection's span: "websocket /route", or
// "websocket" while the route is not known (never the path, which may hold
// identifiers: a span name must have few values).
func spanNameOf(route string) string {
	if route == "" {
		return spanName
	}
	return spanName + " " + route
}

// requestAttrs are the attributes a connection's span starts with: the
// peer's address and the path and route of the upgrade request (never its
// query, which may hold a token).
func requestAttrs(r *http.Request, route string) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 4)
	if host, port, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, semconv.NetworkPeerAddress(host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.NetworkPeerPort(p))
		}
	}
	if r.URL != nil && r.URL.Path != "" {
		attrs = append(attrs, semconv.URLPath(r.URL.Path))
	}
	if route != "" {
		attrs = append(attrs, semconv.HTTPRoute(route))
	}
	return attrs
}

// routeOf returns the route that matched r, "" when it is not known yet:
// the path of the standard library's mux pattern, or chi's route pattern
// (complete once chi has routed the request). It also returns chi's
// routing context, which routeLater reads again.
func routeOf(r *http.Request) (string, *chi.Context) {
	if p := r.Pattern; p != "" {
		if _, path, ok := strings.Cut(p, " "); ok {
			return path, nil // "GET /ws" → "/ws"
		}
		return p, nil
	}
	rc := chi.RouteContext(r.Context())
	if rc == nil {
		return "", nil
	}
	return rc.RoutePattern(), rc
}

// closeAttrs describe a close, as decided or as it ended.
func (t *Telemetry) closeAttrs(code lifecycle.StatusCode, reason string, initiator lifecycle.Initiator, cause error) []attribute.KeyValue {
	return []attribute.KeyValue{
		keyCloseCode.Int(int(code)),
		keyCloseReason.String(reason),
		keyCloseInitiator.String(initiator.String()),
		keyCloseCause.String(observe.CauseName(t.cfg.causes, cause)),
	}
}
