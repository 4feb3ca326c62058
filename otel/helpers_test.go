package otel_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/otel"
)

// setup says how a harness is built.
type setup struct {
	opts     []otel.Option
	sampler  sdktrace.Sampler // AlwaysSample when nil
	otelhttp bool             // otelhttp's handler in front of the middleware
	events   bool             // an echo in event mode instead of conntest.Script
	policies []func(http.Handler) http.Handler
}

// harness is a real server: /ws behind the otel middleware (behind otelhttp
// if asked), a policy that refuses on request and sets the subject
// (conntest.Deny), conntest.Script's handler, and the SDK with
// in-memory exporters: a SpanRecorder and a ManualReader.
type harness struct {
	t      *testing.T
	reg    *lifecycle.Registry
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	ws     string // ws:// URL of /ws
	ended  chan lifecycle.CloseInfo
}

func newHarness(t *testing.T, s setup) *harness {
	t.Helper()
	h := &harness{
		t:      t,
		reg:    lifecycle.NewRegistry(),
		spans:  tracetest.NewSpanRecorder(),
		reader: sdkmetric.NewManualReader(),
		ended:  make(chan lifecycle.CloseInfo, 64),
	}
	sampler := s.sampler
	if sampler == nil {
		sampler = sdktrace.AlwaysSample()
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans), sdktrace.WithSampler(sampler))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	t.Cleanup(func() {
		tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	})
	opts := append([]otel.Option{
		otel.WithTracerProvider(tp), otel.WithMeterProvider(mp), otel.WithPropagator(propagation.TraceContext{}),
	}, s.opts...)
	tel, err := otel.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ws http.Handler = middleware.Handler(h.reg, conntest.Serve(conntest.Script), middleware.WithLogger(quiet))
	if s.events {
		ws = conntest.Events.Handler(h.reg, conntest.EchoMessage, middleware.WithLogger(quiet))
	}
	ws = middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { h.ended <- info })(ws)
	for i := len(s.policies) - 1; i >= 0; i-- {
		ws = s.policies[i](ws)
	}
	ws = conntest.Deny(ws)
	ws = tel.Middleware(ws)
	if s.otelhttp {
		ws = otelhttp.NewHandler(ws, "upgrade", otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp),
			otelhttp.WithPropagators(propagation.TraceContext{}))
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	h.ws = wstest.Server(t, mux) + "/ws"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.reg.Shutdown(ctx)
	})
	return h
}

// header builds header fields from "Name: value" strings.
func header(fields ...string) http.Header {
	hdr := http.Header{}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, ": ")
		hdr.Set(k, v)
	}
	return hdr
}

// dial opens a connection with extra header fields ("Name: value").
func (h *harness) dial(fields ...string) *wstest.RawClient {
	h.t.Helper()
	c, err := wstest.DialRaw(h.ws, header(fields...))
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	return c
}

// refused dials and expects the HTTP status want.
func (h *harness) refused(want int, fields ...string) {
	h.t.Helper()
	c, err := wstest.DialRaw(h.ws, header(fields...))
	if err == nil {
		c.Close()
		h.t.Fatalf("dial %v: upgraded, want %d", fields, want)
	}
	if c == nil || c.Response == nil || c.Response.StatusCode != want {
		h.t.Fatalf("dial %v: %v, want status %d", fields, err, want)
	}
}

// echo sends msg and expects it back.
func echo(t *testing.T, c *wstest.RawClient, msg string) {
	t.Helper()
	c.WriteText(msg)
	if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != msg {
		t.Fatalf("echo of %q: %v %q", msg, err, f.Payload)
	}
}

// next waits for the next connection's end, as seen by an OnClose hook
// that runs after the middleware's own (its span has ended by then).
func (h *harness) next() lifecycle.CloseInfo {
	h.t.Helper()
	select {
	case info := <-h.ended:
		return info
	case <-time.After(10 * time.Second):
		h.t.Fatal("no connection ended within 10s")
		return lifecycle.CloseInfo{}
	}
}

// peerClose writes a Close with code and reason, reads the server's echo
// and waits for TCP to close.
func peerClose(t *testing.T, c *wstest.RawClient, code int, reason string) {
	t.Helper()
	c.WriteClose(code, reason)
	f, _, err := c.ReadUntilClose(5 * time.Second)
	if err != nil || f.CloseCode() != code {
		t.Fatalf("echo of the Close %d: %v %v", code, f.CloseCode(), err)
	}
	if _, err := c.WaitEOF(5 * time.Second); err != nil {
		t.Fatalf("server did not close TCP: %v", err)
	}
	c.Close()
}

// answerClose reads until the server's Close, echoes it, and waits for TCP
// to close. It returns the server's code and reason.
func answerClose(t *testing.T, c *wstest.RawClient) (int, string) {
	t.Helper()
	f, _, err := c.ReadUntilClose(5 * time.Second)
	if err != nil {
		t.Fatalf("no Close from the server: %v", err)
	}
	c.WriteClose(f.CloseCode(), "")
	if _, err := c.WaitEOF(5 * time.Second); err != nil {
		t.Fatalf("server did not close TCP: %v", err)
	}
	c.Close()
	return f.CloseCode(), f.CloseReason()
}

// traceparent returns a W3C traceparent header field for a trace and a
// parent span of its own, numbered n, and the trace ID.
func traceparent(n int) (field, traceID, parentID string) {
	traceID = fmt.Sprintf("%032x", 0x4bf92f3577b34da6+n)
	parentID = fmt.Sprintf("%016x", 0x00f067aa0ba902b7+n)
	return "Traceparent: 00-" + traceID + "-" + parentID + "-01", traceID, parentID
}

// connSpans returns the ended connection spans (named "websocket…") of
// traceID, in the order they ended.
func (h *harness) connSpans(traceID string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range h.spans.Ended() {
		if strings.HasPrefix(s.Name(), "websocket") && s.SpanContext().TraceID().String() == traceID {
			out = append(out, s)
		}
	}
	return out
}

// connSpan returns the one ended connection span of traceID.
func (h *harness) connSpan(traceID string) sdktrace.ReadOnlySpan {
	h.t.Helper()
	spans := h.connSpans(traceID)
	if len(spans) != 1 {
		h.t.Fatalf("trace %s: %d connection spans, want 1 (all ended: %v)", traceID, len(spans), names(h.spans.Ended()))
	}
	return spans[0]
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name()+"@"+s.SpanContext().TraceID().String())
	}
	return out
}

// attrs returns a set's attributes as a map of their values' strings.
func attrs(kvs []attribute.KeyValue) map[string]string {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		out[string(kv.Key)] = kv.Value.String()
	}
	return out
}

// wantAttrs fails t unless every attribute of want is in got, with the
// same value; a value "-" wants the attribute absent.
func wantAttrs(t *testing.T, what string, got []attribute.KeyValue, want map[string]string) {
	t.Helper()
	m := attrs(got)
	for k, v := range want {
		g, ok := m[k]
		switch {
		case v == "-" && ok:
			t.Errorf("%s: %s = %q, want none", what, k, g)
		case v != "-" && (!ok || g != v):
			t.Errorf("%s: %s = %q (present %v), want %q", what, k, g, ok, v)
		}
	}
}

// typeOf returns the type of attribute key in kvs.
func typeOf(kvs []attribute.KeyValue, key string) attribute.Type {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value.Type()
		}
	}
	return attribute.EMPTY
}

// events returns the names of a span's events.
func events(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, e := range s.Events() {
		out = append(out, e.Name)
	}
	return out
}

// event returns the span's first event named name.
func event(t *testing.T, s sdktrace.ReadOnlySpan, name string) sdktrace.Event {
	t.Helper()
	for _, e := range s.Events() {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("span %s has no event %q (events: %v)", s.Name(), name, events(s))
	return sdktrace.Event{}
}

// collect reads the metrics.
func (h *harness) collect() map[string]metricdata.Aggregation {
	h.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		h.t.Fatal(err)
	}
	out := make(map[string]metricdata.Aggregation)
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// sums returns the points of an int64 sum by their attributes, written as
// "k=v,k=v" in key order.
func sums(t *testing.T, data metricdata.Aggregation) map[string]int64 {
	t.Helper()
	s, ok := data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("not an int64 sum: %T", data)
	}
	out := make(map[string]int64)
	for _, p := range s.DataPoints {
		var parts []string
		for _, kv := range p.Attributes.ToSlice() {
			parts = append(parts, string(kv.Key)+"="+kv.Value.String())
		}
		out[strings.Join(parts, ",")] = p.Value
	}
	return out
}

// histCount returns how many values a float64 histogram holds (none when
// nothing was ever recorded: the SDK exports no histogram then).
func histCount(t *testing.T, data metricdata.Aggregation) uint64 {
	t.Helper()
	if data == nil {
		return 0
	}
	hist, ok := data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("not a float64 histogram: %T", data)
	}
	var n uint64
	for _, p := range hist.DataPoints {
		n += p.Count
	}
	return n
}
