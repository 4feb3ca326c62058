package otel_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/otel"
)

// TestNoAllocationPerMessage: an echo round trip allocates as much with the
// middleware on as without it, its span recording or not — the client's
// and the server's allocations together (the server's handler runs during
// the round trip). The middleware's cost is per connection, not per
// message.
func TestNoAllocationPerMessage(t *testing.T) {
	off := roundTripAllocs(t, nil)
	for name, sampler := range map[string]sdktrace.Sampler{
		"sampled out": sdktrace.NeverSample(),
		"sampled":     sdktrace.AlwaysSample(),
	} {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithSpanProcessor(rec))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		tel, err := otel.New(otel.WithTracerProvider(tp), otel.WithMeterProvider(mp))
		if err != nil {
			t.Fatal(err)
		}
		if on := roundTripAllocs(t, tel.Middleware); on != off {
			t.Errorf("%s: %v allocations per round trip, %v without the middleware", name, on, off)
		}
		tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	}
}

// roundTripAllocs returns the allocations of one echo round trip through
// an in-memory connection, with mw (if any) in front of the handler.
func roundTripAllocs(t *testing.T, mw func(http.Handler) http.Handler) float64 {
	t.Helper()
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(context.Background())
	var h http.Handler = middleware.Handler(reg, conntest.Serve(conntest.Echo))
	if mw != nil {
		h = mw(h)
	}
	ws, _, err := wstest.PipeDial(h, "/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	msg := []byte("0123456789abcdef")
	var failed error
	n := testing.AllocsPerRun(200, func() {
		if err := ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
			failed = err
			return
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			failed = err
		}
	})
	if failed != nil {
		t.Fatal(failed)
	}
	return n
}
