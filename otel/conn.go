package otel

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/observe"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
)

type connKey struct{}

// conn is the telemetry of one upgrade request and of the connection it
// becomes.
type conn struct {
	t         *Telemetry
	parent    trace.SpanContext // the upgrade request's span, parent of every period's
	name      string
	kind      trace.SpanKind
	attrs     []attribute.KeyValue // the span's first attributes, again on every period's
	recording bool                 // the first span records: events and periods are worth it
	chi       *chi.Context         // chi's routing, when the route was not known at the start

	// Method values bound once per connection.
	attachFn func(*lifecycle.Conn) error
	closedFn func(*lifecycle.Conn, lifecycle.CloseInfo)
	rotateFn func()

	c       *lifecycle.Conn // set by attach, before the connection is counted live
	msgsIn  atomic.Uint64
	bytesIn atomic.Uint64

	mu          sync.Mutex
	span        trace.Span        // the current one
	first       trace.SpanContext // linked from every later period's span
	period      int
	timer       lifecycle.Timer
	ended       bool          // the span has ended for good
	gone        bool          // the OnClose hook has started: attach must not count it open
	stopClosing func() bool   // stops the close decision's event (context.AfterFunc)
	closingDone chan struct{} // closed once that event is recorded
}

// SpanOf returns the span that records c now (with [WithSpanPeriod], the
// current period's), or a span that records nothing when c has none. Use
// it to add events of your own, or to start spans under the connection's:
//
//	ctx := trace.ContextWithSpan(c.Context(), otel.SpanOf(c))
func SpanOf(c *lifecycle.Conn) trace.Span {
	if s, ok := c.Context().Value(connKey{}).(*conn); ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.span
	}
	return trace.SpanFromContext(context.Background())
}

// attach runs on the new connection (before every other policy's
// attachment, when the middleware is outermost): it counts the connection and its inbound messages, feeds the
// RTT histogram and, when the span records, marks the open and watches for
// the close's decision.
func (s *conn) attach(c *lifecycle.Conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone { // it ended while the attachments ran (a shutdown's close)
		return nil
	}
	s.c = c
	c.AddReadCheck(s.countIn)
	c.OnRTT(s.t.rttFn)
	s.t.inst.open(s)
	if !s.recording {
		return nil
	}
	s.nameRoute()
	s.span.AddEvent(eventOpen)
	s.span.SetAttributes(semconv.HTTPResponseStatusCode(http.StatusSwitchingProtocols))
	if p := c.Subprotocol(); p != "" {
		s.span.SetAttributes(keySubprotocol.String(p))
	}
	s.closingDone = make(chan struct{})
	s.stopClosing = context.AfterFunc(c.Context(), s.closing)
	if d := s.t.cfg.period; d > 0 {
		s.first = s.span.SpanContext()
		s.span.SetAttributes(keySpanPeriod.Int(0))
		s.rotateFn = s.rotate
		c.StartTimer(&s.timer, d, s.rotateFn)
	}
	return nil
}

// nameRoute names the span after the route, when chi had not routed the
// request when it started; chi has now (the upgrade runs in the route's
// handler), and has not yet reused its routing context (the request is
// still being served). Callers hold s.mu.
func (s *conn) nameRoute() {
	if s.chi == nil {
		return
	}
	if route := s.chi.RoutePattern(); route != "" {
		s.name = spanNameOf(route)
		s.span.SetName(s.name)
		s.span.SetAttributes(semconv.HTTPRoute(route))
		s.attrs = append(s.attrs, semconv.HTTPRoute(route))
	}
	s.chi = nil
}

// countIn counts one inbound data message. It never refuses one.
func (s *conn) countIn(_ lifecycle.MessageType, data []byte) error {
	s.msgsIn.Add(1)
	s.bytesIn.Add(uint64(len(data)))
	return nil
}

// counts returns the connection's data messages and bytes so far.
func (s *conn) counts() counts {
	return counts{
		msgsIn:   s.msgsIn.Load(),
		bytesIn:  s.bytesIn.Load(),
		msgsOut:  connx.OutboundMessages(s.c),
		bytesOut: connx.OutboundBytes(s.c),
	}
}

func countAttrs(n counts) []attribute.KeyValue {
	return []attribute.KeyValue{
		keyMessagesReceived.Int64(int64(n.msgsIn)),
		keyMessagesSent.Int64(int64(n.msgsOut)),
		keyBytesReceived.Int64(int64(n.bytesIn)),
		keyBytesSent.Int64(int64(n.bytesOut)),
	}
}

// closing records the close as decided, when closing starts (the Conn's
// context is cancelled): a policy's, the application's, the peer's, the
// Registry's (a revocation, a shutdown) or a lost connection's.
func (s *conn) closing() {
	defer close(s.closingDone)
	ce, ok := errors.AsType[*lifecycle.CloseError](context.Cause(s.c.Context()))
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.span.AddEvent(eventClose, trace.WithAttributes(s.t.closeAttrs(ce.Code, ce.Reason, ce.Initiator, ce.Cause)...))
	}
}

// rotate ends the current period's span and starts the next one.
func (s *conn) rotate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.span.SetAttributes(countAttrs(s.counts())...)
	s.span.End()
	s.period++
	ctx := trace.ContextWithSpanContext(context.Background(), s.parent)
	_, s.span = s.t.tracer.Start(ctx, s.name, trace.WithSpanKind(s.kind),
		trace.WithAttributes(s.attrs...), trace.WithAttributes(keySpanPeriod.Int(s.period)),
		trace.WithLinks(trace.Link{SpanContext: s.first}))
	s.c.StartTimer(&s.timer, s.t.cfg.period, s.rotateFn)
}

// closed runs once for every connection that got a 101, after it ended. One
// that ended before the attachments reached this one's (the Registry
// refused it while draining) was never counted as opened: count it now.
func (s *conn) closed(c *lifecycle.Conn, info lifecycle.CloseInfo) {
	s.mu.Lock()
	s.gone = true
	stop, done := s.stopClosing, s.closingDone
	s.mu.Unlock()
	t, ctx := s.t, context.Background()
	if t.inst.end(s) {
		t.inst.active.Add(ctx, -1)
	} else {
		t.inst.opened.Add(ctx, 1)
	}
	cause := observe.CauseName(t.cfg.causes, info.Cause)
	t.inst.closed.Add(ctx, 1, metric.WithAttributes(
		keyCloseCode.String(observe.CodeLabel(info, t.cfg.peerCodes)), keyCloseInitiator.String(info.Initiator.String()), keyCloseCause.String(cause)))
	t.inst.sessions.Record(ctx, info.Duration.Seconds())

	if stop != nil && !stop() {
		<-done // the close's event is being recorded: let it land first
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = true
	span := s.span
	if !span.IsRecording() {
		span.End()
		return
	}
	span.SetAttributes(t.closeAttrs(info.Code, info.Reason, info.Initiator, info.Cause)...)
	span.SetAttributes(keyHandshakeComplete.Bool(info.HandshakeComplete))
	n := counts{msgsIn: s.msgsIn.Load(), bytesIn: s.bytesIn.Load(), msgsOut: connx.OutboundMessages(c), bytesOut: connx.OutboundBytes(c)}
	span.SetAttributes(countAttrs(n)...)
	if t.cfg.subject {
		if sub := c.Subject(); sub != "" {
			span.SetAttributes(semconv.EnduserID(sub))
		}
	}
	if failed(info) {
		span.SetAttributes(semconv.ErrorTypeKey.String(cause))
		span.SetStatus(codes.Error, info.Reason)
	}
	span.End()
}

// failed reports whether a close is the server's failure: a panic, or a
// 1011 "internal error" it chose. A peer that leaves, however abruptly, and
// a policy that closes are not failures of the server.
func failed(info lifecycle.CloseInfo) bool {
	return errors.Is(info.Cause, lifecycle.ErrHandlerPanic) ||
		errors.Is(info.Cause, policy.ErrAttachmentPanic) ||
		(info.Initiator == lifecycle.InitiatorLocal && info.Code == lifecycle.StatusInternalError)
}
