package otel

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wsmw/wsmw/internal/observe"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/middleware"
)

// Middleware records the span and the metrics of every WebSocket upgrade
// request that passes through it; other requests pass untouched. Put it
// first (outermost) in front of the WebSocket route, so that it sees every
// refusal — behind otelhttp, if that is in front too.
//
// Each upgrade request starts a span, a child of the request's span: the
// one in the request's context (otelhttp in front), else the one its
// headers carry (W3C traceparent, through the propagator). A request
// answered without an upgrade (401, 403, 429, 503, …) ends it at once with
// http.response.status_code, and counts in wsmw.upgrades.rejected. A
// connection keeps it until it has ended: the OnClose hook sets the close's
// code, reason, initiator and cause, whether the close handshake completed,
// and the data messages and bytes each way, and ends it.
func (t *Telemetry) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !policy.IsUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		s, ctx := t.start(r)
		r = r.WithContext(ctx) // the connection's span is the request's from here on
		rw := &observe.StatusWriter{ResponseWriter: w}
		r = policy.Attach(r, s.attachFn)
		r = middleware.AddCloseHook(r, s.closedFn)
		r = middleware.WithValue(r, connKey{}, s)
		if s.recording {
			r = policy.OnDecision(r, s.decided)
		}
		panicked := true
		defer func() {
			if middleware.UpgradedConn(r) == nil {
				s.refused(rw, panicked)
			}
		}()
		next.ServeHTTP(rw, r)
		panicked = false
	})
}

// start starts the span of the upgrade request r, and returns r's context
// with it.
func (t *Telemetry) start(r *http.Request) (*conn, context.Context) {
	ctx := r.Context()
	kind := trace.SpanKindInternal // under the request's own server span
	opts := make([]trace.SpanStartOption, 0, 4)
	if !trace.SpanContextFromContext(ctx).IsValid() {
		kind = trace.SpanKindServer
		remote := t.propagator().Extract(ctx, propagation.HeaderCarrier(r.Header))
		switch sc := trace.SpanContextFromContext(remote); {
		case !t.cfg.public:
			ctx = remote // the client's span is the parent
		case sc.IsValid():
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc})) // a new trace, linked
		}
	}
	route, rc := routeOf(r)
	attrs := requestAttrs(r, route)
	opts = append(opts, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	spanCtx, span := t.tracer.Start(ctx, spanNameOf(route), opts...)
	s := &conn{
		t:         t,
		parent:    trace.SpanContextFromContext(ctx),
		name:      spanNameOf(route),
		kind:      kind,
		attrs:     attrs,
		span:      span,
		recording: span.IsRecording(),
	}
	if route == "" && rc != nil && s.recording {
		s.chi = rc // routing has not finished: look again once it has
	}
	s.attachFn, s.closedFn = s.attach, s.closed
	return s, spanCtx
}

// refused ends the span of a request that got no connection.
func (s *conn) refused(rw *observe.StatusWriter, panicked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nameRoute()
	s.ended = true
	status, answered := rw.Refusal()
	switch {
	case panicked: // net/http recovers it, and answers nothing
		s.span.SetStatus(codes.Error, "handler panicked")
		s.span.End()
		return
	case !answered: // the handshake failed after the hijack
		s.span.SetStatus(codes.Error, "handshake failed")
		s.span.End()
		return
	}
	attr := semconv.HTTPResponseStatusCode(status)
	s.t.inst.rejections.Add(context.Background(), 1, metric.WithAttributes(attr))
	s.span.SetAttributes(attr)
	if status >= 500 {
		s.span.SetStatus(codes.Error, http.StatusText(status))
	}
	s.span.End()
}

// decided records a policy's decision ([policy.OnDecision]) as an event.
func (s *conn) decided(d policy.Decision) {
	opts := make([]trace.EventOption, 0, 2)
	if d.Status != 0 {
		opts = append(opts, trace.WithAttributes(semconv.HTTPResponseStatusCode(d.Status)))
	}
	if d.Reason != "" {
		opts = append(opts, trace.WithAttributes(keyDecisionReason.String(d.Reason)))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.span.AddEvent(eventDecision+d.Name, opts...)
	}
}
