// Package otel records OpenTelemetry traces and metrics of wsmw's WebSocket
// connections: each connection's life as one span, and the metrics module's
// figures through the OpenTelemetry metrics API.
//
// One middleware, [Telemetry.Middleware], does it all; put it first (outermost) in front of the
// WebSocket route, behind otelhttp if that is there too:
//
//	tel, err := otel.New() // the global providers; or WithTracerProvider, WithMeterProvider
//	if err != nil { … }
//	r.With(tel.Middleware, auth, limits).Get("/ws", wsmw.Handler(reg, echo))
//
// The package is a module of its own (github.com/wsmw/wsmw/otel), so that
// wsmw's core never depends on OpenTelemetry; it uses only the core's
// lifecycle and middleware packages. Its name is OpenTelemetry's: import it
// under another (wsotel) beside go.opentelemetry.io/otel. It starts no SDK
// and exports nothing itself; the application sets up the SDK and its
// exporters (the example server does it from the standard OTEL_* variables).
//
// # The connection's span
//
// Each WebSocket upgrade request starts a span, a child of the request's
// span: the one in the request's context (otelhttp in front: the span is
// then an internal span under that server span), else the one the request's
// headers carry (W3C traceparent, read by the propagator: [WithPropagator], or
// the global one, which reads nothing until it is set), else a new trace.
// Behind that header a client picks the trace its connection joins and,
// under a parent-based sampler, whether it is recorded: for endpoints open
// to untrusted clients, [WithPublicEndpoint] starts a trace of its own
// instead, linked to the client's span.
// The request's context carries the new span from then on, so spans started
// below it, by the policies or the handler from the request it gets, are its
// children. Its name is "websocket" and the route ("websocket /ws"), never
// the path.
//
// A request answered without an upgrade (401, 403, 429, 503, …) ends the
// span at once with http.response.status_code (an error only for 5xx, as
// for HTTP servers). A connection keeps it until it has ended; then its
// attributes say how:
//
//	websocket.close.code                int: CloseInfo.Code (1000, 1008, 4000, …)
//	websocket.close.reason              CloseInfo.Reason
//	websocket.close.initiator           local, peer or abnormal
//	wsmw.close.cause                    the cause's name (session_expired, revoked, peer_closed, …)
//	websocket.close.handshake_complete  bool: Close frames went both ways
//	websocket.messages.received, websocket.messages.sent
//	websocket.bytes.received, websocket.bytes.sent   data messages and their payload bytes
//	enduser.id                          the subject, only with WithSubject: it is personal data
//
// and, from the start: network.peer.address and network.peer.port,
// url.path (never the query, which may hold a token), http.route when
// known, http.response.status_code 101 and websocket.subprotocol once
// upgraded. The span is an error (status and error.type, the cause's name)
// only when the server failed: a panic, or a 1011 it sent. Its events mark
// what happened on the way:
//
//	wsmw.open             the upgrade succeeded and the policies accepted it
//	wsmw.close            closing started, as decided: code, reason, initiator and cause; a
//	                      revocation (Registry.Revoke, the cluster module's) is the one whose
//	                      cause is revoked, at the moment it was decided
//	wsmw.upgrade_refused  a policy refused the upgrade: status, reason
//	wsmw.token_refreshed  Refresh (package auth) accepted a new token; wsmw.token_refreshed_refused,
//	                      with the reason, when it refused one
//	wsmw.token_authenticated  a token in band (auth.Authenticator.Authenticate); _refused too
//	wsmw.<name>           any other decision a policy reports
//
// [SpanOf] returns a connection's span, for events of the application's own
// and for spans under it. Events are recorded only on spans that record
// (sampled in); nothing is recorded per message.
//
// # Connections that last hours
//
// By default a connection is one span, from the upgrade request to the end.
// That is the simplest trace to read, but an exporter sends a span only
// once it has ended: a connection of hours shows up hours later, a process
// that crashes loses it, and some backends refuse or cut spans that long.
// [WithSpanPeriod](d) cuts the span every d instead: each period is a span of
// its own under the same parent, numbered by wsmw.span.period and linked to
// the first one, with the messages and bytes so far; the last one carries
// the close. Each part is visible within d and a crash loses at most d, at
// the price of several spans per connection to put back together (by the
// link, or the trace) and a span start every d (the connection's own timer:
// no goroutine). Give the SDK a batch span processor: spans end on the
// goroutines that close connections and fire timers.
//
// # Metrics
//
// The metrics module's, through the OpenTelemetry API; every attribute has
// a bounded set of values (no subject, address or path):
//
//	wsmw.connections.active   {connection}  open now
//	wsmw.connections.opened   {connection}  upgrades that succeeded
//	wsmw.connections.closed   {connection}  by websocket.close.code, websocket.close.initiator, wsmw.close.cause
//	wsmw.upgrades.rejected    {request}     by http.response.status_code
//	wsmw.session.duration     s             from the upgrade to the end
//	wsmw.ping.rtt             s             heartbeat round trips (lifecycle.Conn.OnRTT)
//	wsmw.messages, wsmw.bytes               data messages and payload bytes, by network.io.direction
//
// In the metrics websocket.close.code is a string: the codes this server
// chooses are kept exact, while a peer's application codes (3000-4999,
// any it likes) are folded into "3xxx" and "4xxx" unless allowed with
// [WithPeerCodes]. A cause is named by [WithCause], else by its
// [*lifecycle.Cause] (every sentinel cause of wsmw's packages is one, and
// [lifecycle.NewCause] makes more), else "other".
//
// # Cost
//
// Per connection, a span (or a non-recording one when sampled out) and a
// few small allocations; per data message, two atomic additions and no
// allocation, whether the span records or not. Outbound messages are read
// from the connection's own counters (its outbound counters) when
// the SDK collects.
package otel
