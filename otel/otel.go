package otel

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wsmw/wsmw/internal/observe"
	"github.com/wsmw/wsmw/lifecycle"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/wsmw/wsmw/otel"

// Telemetry records the spans and metrics of WebSocket connections. Make one
// with [New] and put its [Telemetry.Middleware] in front of the WebSocket route.
type Telemetry struct {
	cfg    config
	tracer trace.Tracer
	inst   *instruments

	// Bound once, so that a connection costs no closure for them.
	rttFn func(time.Duration)
}

// Option configures New.
type Option func(*config)

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagator     propagation.TextMapPropagator
	public         bool
	subject        bool
	period         time.Duration
	causes         []observe.NamedCause
	peerCodes      map[lifecycle.StatusCode]bool
}

// WithTracerProvider sets where spans go; [otel.GetTracerProvider]() (the
// global provider, a no-op until one is set) otherwise.
func WithTracerProvider(tp trace.TracerProvider) Option {
	if tp == nil {
		panic("otel: WithTracerProvider(nil)")
	}
	return func(c *config) { c.tracerProvider = tp }
}

// WithMeterProvider sets where metrics go; [otel.GetMeterProvider]() (the
// global provider, a no-op until one is set) otherwise.
func WithMeterProvider(mp metric.MeterProvider) Option {
	if mp == nil {
		panic("otel: WithMeterProvider(nil)")
	}
	return func(c *config) { c.meterProvider = mp }
}

// WithPropagator sets how the upgrade request's trace context is read from
// its headers, when the request's context carries no span (no otelhttp in
// front); [otel.GetTextMapPropagator]() (the global one, which reads nothing
// until one is set: set [propagation.TraceContext]{} for W3C traceparent)
// otherwise.
func WithPropagator(p propagation.TextMapPropagator) Option {
	if p == nil {
		panic("otel: WithPropagator(nil)")
	}
	return func(c *config) { c.propagator = p }
}

// WithPublicEndpoint is for endpoints that untrusted clients reach: the
// trace context their upgrade requests carry (traceparent) is not made the
// parent of the connection's span, which starts a trace of its own, linked
// to the client's span context. Without it, a client chooses the trace its
// connection joins and, under a parent-based sampler (the SDK's default),
// whether its span is recorded. A span in the request's context (otelhttp
// in front) is still the parent: give otelhttp its own
// otelhttp.WithPublicEndpointFn.
func WithPublicEndpoint() Option { return func(c *config) { c.public = true } }

// WithSubject records each connection's subject ([lifecycle.Conn.Subject],
// such as a JWT's sub) on its span as enduser.id. It is off by default: a
// subject is personal data. Metrics never carry it.
func WithSubject() Option { return func(c *config) { c.subject = true } }

// WithSpanPeriod cuts each connection's span every d: the first span ends
// after d and a new one starts, with the same parent and a link to the
// first, and so on until the connection ends; the last one carries the
// close. Use it for connections that last hours (see the package
// documentation for the trade). Zero, the default, keeps one span for the
// whole connection.
func WithSpanPeriod(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("otel: WithSpanPeriod(%v): must not be negative", d))
	}
	return func(c *config) { c.period = d }
}

// WithCause names one more cause for the wsmw.close.cause attribute: a close
// whose [lifecycle.CloseInfo].Cause matches err (errors.Is) is recorded as name. Causes
// added this way are checked before the built-in ones, in the order given.
// Keep the set of names small: each is a value of a metric attribute. A
// cause that no name matches is named by its [*lifecycle.Cause], else
// "other"; no cause is "none".
func WithCause(err error, name string) Option {
	if err == nil || name == "" {
		panic("otel: WithCause needs an error and a name")
	}
	return func(c *config) { c.causes = append(c.causes, observe.NamedCause{Err: err, Name: name}) }
}

// WithPeerCodes keeps the given application codes (3000-4999) exact in
// the metrics' websocket.close.code attribute when a peer sends them; other
// peer codes in that range are counted as "3xxx" or "4xxx", so that peers
// cannot create attribute values. Spans always carry the exact code.
func WithPeerCodes(codes ...lifecycle.StatusCode) Option {
	return func(c *config) {
		for _, code := range codes {
			c.peerCodes[code] = true
		}
	}
}

// New returns the instrumentation, with its instruments made on the meter
// provider. It fails when an instrument cannot be made.
func New(opts ...Option) (*Telemetry, error) {
	cfg := config{peerCodes: make(map[lifecycle.StatusCode]bool)}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.tracerProvider == nil {
		cfg.tracerProvider = otel.GetTracerProvider()
	}
	if cfg.meterProvider == nil {
		cfg.meterProvider = otel.GetMeterProvider()
	}
	t := &Telemetry{
		cfg:    cfg,
		tracer: cfg.tracerProvider.Tracer(ScopeName),
	}
	inst, err := newInstruments(cfg.meterProvider.Meter(ScopeName))
	if err != nil {
		return nil, errors.Join(errors.New("otel: making the instruments"), err)
	}
	t.inst = inst
	t.rttFn = inst.observeRTT
	return t, nil
}

// propagator returns the configured propagator, or the global one as it is
// now.
func (t *Telemetry) propagator() propagation.TextMapPropagator {
	if t.cfg.propagator != nil {
		return t.cfg.propagator
	}
	return otel.GetTextMapPropagator()
}
