package otel_test

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	noopmetric "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/otel"
)

// TestClientCloseSpan: an upgrade carrying traceparent yields one span in
// that trace, a server span under the header's span, ended with the close
// the client sent (4000 "bye", the code an int) and the connection's
// messages and bytes each way; its events mark the open and the close as
// decided.
func TestClientCloseSpan(t *testing.T) {
	h := newHarness(t, setup{})
	tp, traceID, parentID := traceparent(1)
	c := h.dial(tp, "X-Sub: alice")
	echo(t, c, "hello")
	echo(t, c, "hi")
	peerClose(t, c, 4000, "bye")
	h.next()

	s := h.connSpan(traceID)
	if s.Name() != "websocket /ws" || s.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %v, want \"websocket /ws\", server", s.Name(), s.SpanKind())
	}
	if got := s.Parent().SpanID().String(); got != parentID || !s.Parent().IsRemote() {
		t.Errorf("parent %s (remote %v), want the traceparent's %s", got, s.Parent().IsRemote(), parentID)
	}
	wantAttrs(t, "span", s.Attributes(), map[string]string{
		"websocket.close.code":               "4000",
		"websocket.close.reason":             "bye",
		"websocket.close.initiator":          "peer",
		"wsmw.close.cause":                   "peer_closed",
		"websocket.close.handshake_complete": "true",
		"websocket.messages.received":        "2",
		"websocket.messages.sent":            "2",
		"websocket.bytes.received":           "7",
		"websocket.bytes.sent":               "7",
		"http.response.status_code":          "101",
		"http.route":                         "/ws",
		"url.path":                           "/ws",
		"network.peer.address":               "127.0.0.1",
		"enduser.id":                         "-", // not without WithSubject
	})
	if typ := typeOf(s.Attributes(), "websocket.close.code"); typ != attribute.INT64 {
		t.Errorf("websocket.close.code is a %v, want an int", typ)
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status %v, want unset", s.Status())
	}
	if got := events(s); len(got) != 2 || got[0] != "wsmw.open" || got[1] != "wsmw.close" {
		t.Errorf("events %v, want [wsmw.open wsmw.close]", got)
	}
	wantAttrs(t, "close event", event(t, s, "wsmw.close").Attributes, map[string]string{
		"websocket.close.code": "4000", "websocket.close.reason": "bye", "websocket.close.initiator": "peer", "wsmw.close.cause": "peer_closed",
	})
}

// TestSpanUnderOtelhttp: with otelhttp in front, the connection's span is
// a child of the upgrade request's span (an internal span under that
// server span), in the traceparent's trace.
func TestSpanUnderOtelhttp(t *testing.T) {
	h := newHarness(t, setup{otelhttp: true})
	tp, traceID, parentID := traceparent(2)
	c := h.dial(tp)
	echo(t, c, "hello")
	c.WriteText("quit")
	if code, _ := answerClose(t, c); code != 1000 {
		t.Fatalf("quit: %d", code)
	}
	h.next()

	// otelhttp ends its span when the upgrade's handler returns, which may
	// be after the connection has ended.
	var upgrade sdktrace.ReadOnlySpan
	wstest.WaitFor(t, "otelhttp's span", 5*time.Second, func() bool {
		for _, s := range h.spans.Ended() {
			if s.Name() == "GET /ws" { // otelhttp names it after the method and route
				upgrade = s
			}
		}
		return upgrade != nil
	})
	if upgrade.Parent().SpanID().String() != parentID {
		t.Fatalf("no otelhttp span under the traceparent (ended: %v)", names(h.spans.Ended()))
	}
	s := h.connSpan(traceID)
	if s.Parent().SpanID() != upgrade.SpanContext().SpanID() || s.SpanKind() != trace.SpanKindInternal {
		t.Errorf("connection span's parent %v kind %v, want otelhttp's span %v, internal",
			s.Parent().SpanID(), s.SpanKind(), upgrade.SpanContext().SpanID())
	}
	wantAttrs(t, "span", s.Attributes(), map[string]string{
		"websocket.close.code": "1000", "websocket.close.initiator": "local", "wsmw.close.cause": "handler_returned",
	})
}

// TestRevocationSpan: a revocation ends the span with 1008 "session
// revoked", and its close event, recorded when the Registry decided,
// names the cause.
func TestRevocationSpan(t *testing.T) {
	h := newHarness(t, setup{})
	tp, traceID, _ := traceparent(3)
	c := h.dial(tp, "X-Sub: alice")
	echo(t, c, "ready")
	if n := h.reg.Revoke("alice"); n != 1 {
		t.Fatalf("revoked %d connections", n)
	}
	if code, reason := answerClose(t, c); code != 1008 || reason != "session revoked" {
		t.Fatalf("revoke: %d %q", code, reason)
	}
	h.next()

	s := h.connSpan(traceID)
	wantAttrs(t, "span", s.Attributes(), map[string]string{
		"websocket.close.code": "1008", "websocket.close.reason": "session revoked",
		"websocket.close.initiator": "local", "wsmw.close.cause": "revoked",
	})
	e := event(t, s, "wsmw.close")
	wantAttrs(t, "close event", e.Attributes, map[string]string{"wsmw.close.cause": "revoked", "websocket.close.code": "1008"})
	if e.Time.After(s.EndTime()) || e.Time.Before(s.StartTime()) {
		t.Errorf("close event at %v, outside the span [%v, %v]", e.Time, s.StartTime(), s.EndTime())
	}
}

// TestRefusedUpgradeSpan: an upgrade refused before the upgrade ends its
// span at once with the status, and the policy's reason as an event; a 503
// is an error, a 401 is not (the client's).
func TestRefusedUpgradeSpan(t *testing.T) {
	h := newHarness(t, setup{})
	for i, status := range []int{http.StatusUnauthorized, http.StatusServiceUnavailable} {
		tp, traceID, _ := traceparent(10 + i)
		h.refused(status, tp, "X-Deny: "+strconv.Itoa(status))
		s := h.connSpan(traceID)
		wantAttrs(t, "refused span", s.Attributes(), map[string]string{
			"http.response.status_code": strconv.Itoa(status), "websocket.close.code": "-",
		})
		e := event(t, s, "wsmw.upgrade_refused")
		wantAttrs(t, "refusal event", e.Attributes, map[string]string{
			"http.response.status_code": strconv.Itoa(status), "wsmw.decision.reason": "denied by the test",
		})
		wantErr := status >= 500
		if (s.Status().Code == codes.Error) != wantErr {
			t.Errorf("%d: status %v, want error %v", status, s.Status(), wantErr)
		}
	}
}

// TestSubjectOnlyWhenAsked: WithSubject records the subject as enduser.id.
func TestSubjectOnlyWhenAsked(t *testing.T) {
	h := newHarness(t, setup{opts: []otel.Option{otel.WithSubject()}})
	tp, traceID, _ := traceparent(4)
	c := h.dial(tp, "X-Sub: alice")
	peerClose(t, c, 1000, "")
	h.next()
	wantAttrs(t, "span", h.connSpan(traceID).Attributes(), map[string]string{"enduser.id": "alice"})
}

// TestHandlerPanicIsAnError: a handler that panics (1011) ends an error
// span; the error type is the cause's name.
func TestHandlerPanicIsAnError(t *testing.T) {
	h := newHarness(t, setup{})
	tp, traceID, _ := traceparent(5)
	c := h.dial(tp)
	c.WriteText("panic")
	if code, _ := answerClose(t, c); code != 1011 {
		t.Fatalf("panic: %d", code)
	}
	h.next()
	s := h.connSpan(traceID)
	if s.Status().Code != codes.Error {
		t.Errorf("status %v, want error", s.Status())
	}
	wantAttrs(t, "span", s.Attributes(), map[string]string{"error.type": "handler_panic", "websocket.close.code": "1011"})
}

// TestSampledOut: a connection whose span is sampled out records no span,
// and is still counted in the metrics.
func TestSampledOut(t *testing.T) {
	h := newHarness(t, setup{sampler: sdktrace.NeverSample()})
	tp, _, _ := traceparent(6)
	c := h.dial(tp)
	echo(t, c, "hello")
	peerClose(t, c, 1000, "")
	h.next()
	if n := len(h.spans.Ended()); n != 0 {
		t.Errorf("%d spans recorded, want none", n)
	}
	m := h.collect()
	if got := sums(t, m["wsmw.connections.opened"])[""]; got != 1 {
		t.Errorf("connections opened %d, want 1", got)
	}
	if got := sums(t, m["wsmw.messages"])["network.io.direction=receive"]; got != 1 {
		t.Errorf("messages received %d, want 1", got)
	}
}

// TestEveryEndRecordsItsClose: connections ending at once, by resets (the
// decision and the end come together) and by Close frames, each end one
// span with its close, and the close's event inside it.
func TestEveryEndRecordsItsClose(t *testing.T) {
	h := newHarness(t, setup{})
	const n = 16
	done := make(chan struct{}, n)
	for i := range n {
		tp, _, _ := traceparent(100 + i)
		c := h.dial(tp)
		echo(t, c, "x")
		go func() {
			defer func() { done <- struct{}{} }()
			if i%2 == 0 {
				c.Reset()
				return
			}
			c.WriteClose(4000+i, "bye")
			c.WaitEOF(5 * time.Second)
			c.Close()
		}()
	}
	for range n {
		<-done
		h.next()
	}
	for i := range n {
		_, traceID, _ := traceparent(100 + i)
		s := h.connSpan(traceID)
		code := "1006"
		if i%2 == 1 {
			code = strconv.Itoa(4000 + i)
		}
		wantAttrs(t, "span", s.Attributes(), map[string]string{"websocket.close.code": code})
		e := event(t, s, "wsmw.close")
		if e.Time.After(s.EndTime()) {
			t.Errorf("span %d: close event after the end", i)
		}
	}
}

// TestSpanNamedAfterChiRoute: under chi, the span is named after the route
// (never the path), whether the middleware sits on the route or in front
// of the router's routing, and for a refused upgrade too.
func TestSpanNamedAfterChiRoute(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tel, err := otel.New(otel.WithTracerProvider(tp), otel.WithMeterProvider(noopmetric.NewMeterProvider()))
	if err != nil {
		t.Fatal(err)
	}
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	ws := middleware.Handler(reg, conntest.Serve(conntest.Echo))
	r := chi.NewRouter()
	r.Use(tel.Middleware)
	r.With(conntest.Deny).Get("/rooms/{room}", ws)
	r.Route("/on-route", func(r chi.Router) { r.With(tel.Middleware).Get("/{id}", ws) })
	url := wstest.Server(t, r)
	for _, path := range []string{"/rooms/42", "/on-route/7"} {
		c, err := wstest.DialRaw(url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		peerClose(t, c, 1000, "")
	}
	c, _ := wstest.DialRaw(url+"/rooms/43", header("X-Deny: 401"))
	if c == nil || c.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refusal: %v", c)
	}
	c.Close()
	wstest.WaitFor(t, "four ended spans", 5*time.Second, func() bool { return len(rec.Ended()) == 4 })
	got := make(map[string]int)
	for _, s := range rec.Ended() {
		got[s.Name()+" "+attrs(s.Attributes())["http.route"]]++
	}
	want := map[string]int{
		"websocket /rooms/{room} /rooms/{room}":   2, // one upgraded, one refused
		"websocket /on-route/{id} /on-route/{id}": 2, // the router's middleware's and the route's
	}
	if !maps.Equal(got, want) {
		t.Errorf("spans by name and route: %v, want %v", got, want)
	}
	// The request's context carries the connection's span from the
	// middleware on: the route's span is a child of the router's.
	var nested []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "websocket /on-route/{id}" {
			nested = append(nested, s)
		}
	}
	if len(nested) == 2 && nested[0].Parent().SpanID() != nested[1].SpanContext().SpanID() &&
		nested[1].Parent().SpanID() != nested[0].SpanContext().SpanID() {
		t.Errorf("neither /on-route span is the other's parent")
	}
}

// TestPublicEndpoint: with WithPublicEndpoint, a client's traceparent is
// not the parent of its connection's span, which starts a trace of its own
// linked to the client's span.
func TestPublicEndpoint(t *testing.T) {
	h := newHarness(t, setup{opts: []otel.Option{otel.WithPublicEndpoint()}})
	tp, traceID, parentID := traceparent(7)
	c := h.dial(tp)
	peerClose(t, c, 1000, "")
	h.next()
	if n := len(h.connSpans(traceID)); n != 0 {
		t.Fatalf("%d spans joined the client's trace", n)
	}
	ended := h.spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans, want 1", len(ended))
	}
	s := ended[0]
	links := s.Links()
	if s.Parent().IsValid() || len(links) != 1 || links[0].SpanContext.SpanID().String() != parentID {
		t.Errorf("parent %v, links %v: want no parent and a link to the client's span %s", s.Parent(), links, parentID)
	}
}

// TestEventModeSpans: in event mode (no goroutine per connection) the
// spans say the same: a client's close, a revocation and its event, the
// messages each way.
func TestEventModeSpans(t *testing.T) {
	h := newHarness(t, setup{events: true})
	tp, traceID, _ := traceparent(40)
	c := h.dial(tp)
	echo(t, c, "hello")
	echo(t, c, "hi")
	peerClose(t, c, 4000, "bye")
	h.next()
	wantAttrs(t, "client close", h.connSpan(traceID).Attributes(), map[string]string{
		"websocket.close.code": "4000", "websocket.close.reason": "bye", "websocket.close.initiator": "peer",
		"websocket.messages.received": "2", "websocket.messages.sent": "2", "websocket.bytes.received": "7",
	})

	tp, traceID, _ = traceparent(41)
	c = h.dial(tp, "X-Sub: bob")
	echo(t, c, "ready")
	h.reg.Revoke("bob")
	if code, reason := answerClose(t, c); code != 1008 || reason != "session revoked" {
		t.Fatalf("revoke: %d %q", code, reason)
	}
	h.next()
	s := h.connSpan(traceID)
	wantAttrs(t, "revocation", s.Attributes(), map[string]string{"websocket.close.code": "1008", "wsmw.close.cause": "revoked"})
	wantAttrs(t, "revocation's event", event(t, s, "wsmw.close").Attributes, map[string]string{"wsmw.close.cause": "revoked"})
}

// TestDecisionAfterUpgrade: a decision a policy reports about an open
// connection ([policy.ReportDecision] with its context, as a token
// refresh would be) is an event of the connection's span, at its time.
func TestDecisionAfterUpgrade(t *testing.T) {
	h := newHarness(t, setup{})
	tp, traceID, _ := traceparent(8)
	c := h.dial(tp)
	echo(t, c, "decide")
	peerClose(t, c, 1000, "")
	h.next()
	s := h.connSpan(traceID)
	if got := events(s); len(got) != 3 || got[1] != "wsmw.token_refreshed" {
		t.Fatalf("events %v, want wsmw.open, wsmw.token_refreshed, wsmw.close", got)
	}
	wantAttrs(t, "decision", event(t, s, "wsmw.token_refreshed").Attributes, map[string]string{
		"wsmw.decision.reason": "scripted", "http.response.status_code": "-",
	})
}
