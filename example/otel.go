package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	wsotel "github.com/wsmw/wsmw/otel"
)

// otelPart is the example's OpenTelemetry (issue 25). When the standard
// OTEL_EXPORTER_OTLP_ENDPOINT is set (or a signal's own,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_METRICS_ENDPOINT),
// the SDK exports traces and metrics over OTLP/HTTP, and every other
// standard OTEL_* variable applies: the exporters, the batch span processor,
// the periodic metric reader, the sampler and the resource read their own
// (OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_SCHEDULE_DELAY,
// OTEL_METRIC_EXPORT_INTERVAL, OTEL_TRACES_SAMPLER, …). Each connection on
// /ws is then a span in its upgrade request's trace (W3C traceparent), under
// otelhttp's span of the request, ended at close with its code and reason;
// run flushes the spans and metrics before it exits. Unset (or
// OTEL_SDK_DISABLED=true), no SDK starts, nothing is exported and /ws has
// no tracing middleware.
type otelPart struct {
	getenv func(string) string // os.Getenv; tests give their own

	log *slog.Logger
	tp  *sdktrace.TracerProvider // nil when traces are off
	mp  *sdkmetric.MeterProvider // nil when metrics are off
}

func (p *otelPart) flags(*flag.FlagSet) {}

// signals reports which signals the environment asks to export.
func (p *otelPart) signals() (traces, metrics bool) {
	env := p.getenv
	if env == nil {
		env = os.Getenv
	}
	if strings.EqualFold(strings.TrimSpace(env("OTEL_SDK_DISABLED")), "true") {
		return false, false
	}
	all := env("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
	traces = (all || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "") && env("OTEL_TRACES_EXPORTER") != "none"
	metrics = (all || env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != "") && env("OTEL_METRICS_EXPORTER") != "none"
	return traces, metrics
}

func (p *otelPart) setup(a *app, _ chi.Router, ws *[]func(http.Handler) http.Handler) error {
	p.log = a.log
	traces, metrics := p.signals()
	if !traces && !metrics {
		return nil
	}
	ctx := context.Background()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { p.log.Warn("opentelemetry", "err", err) }))
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("wsmw-example")), // unless OTEL_SERVICE_NAME says otherwise
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return fmt.Errorf("opentelemetry resource: %w", err)
	}
	if traces {
		exp, err := otlptracehttp.New(ctx) // reads the OTEL_EXPORTER_OTLP_* variables
		if err != nil {
			return fmt.Errorf("opentelemetry trace exporter: %w", err)
		}
		p.tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		otel.SetTracerProvider(p.tp)
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	}
	if metrics {
		exp, err := otlpmetrichttp.New(ctx)
		if err != nil {
			p.shutdown(ctx)
			return fmt.Errorf("opentelemetry metric exporter: %w", err)
		}
		p.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)), sdkmetric.WithResource(res))
		otel.SetMeterProvider(p.mp)
	}
	tel, err := wsotel.New() // the global providers just set
	if err != nil {
		p.shutdown(ctx)
		return err
	}
	// otelhttp's span is the upgrade request's (named by otelhttp: GET);
	// the connection's span is its child.
	*ws = append(*ws, otelhttp.NewMiddleware("ws"), tel.Middleware)
	a.log.Info("opentelemetry", "traces", traces, "metrics", metrics)
	return nil
}

func (p *otelPart) banner(w io.Writer, _ string) {
	if p.tp == nil && p.mp == nil {
		fmt.Fprintln(w, "OpenTelemetry: off (set OTEL_EXPORTER_OTLP_ENDPOINT to export traces and metrics over OTLP/HTTP)")
		return
	}
	fmt.Fprintf(w, "OpenTelemetry: exporting over OTLP/HTTP (traces %v, metrics %v)\n", p.tp != nil, p.mp != nil)
}

// shutdown flushes what is left to export and stops the SDK, within ctx.
// run calls it once every connection has ended, so that every span has.
func (p *otelPart) shutdown(ctx context.Context) {
	if p.tp != nil {
		if err := p.tp.Shutdown(ctx); err != nil {
			p.log.Warn("opentelemetry: spans not flushed", "err", err)
		}
	}
	if p.mp != nil {
		if err := p.mp.Shutdown(ctx); err != nil {
			p.log.Warn("opentelemetry: metrics not flushed", "err", err)
		}
	}
}

// flushTelemetry flushes and stops the OpenTelemetry SDK, if it runs.
func (a *app) flushTelemetry(ctx context.Context) {
	for _, part := range a.parts {
		if o, ok := part.(*otelPart); ok {
			o.shutdown(ctx)
		}
	}
}
