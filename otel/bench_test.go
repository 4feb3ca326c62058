package otel_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// The cost of the middleware, in process over loopback TCP (client and
// server in one process: ns/op, allocs/op and B/op are both sides'): off
// (no middleware), sampled (every span recorded, through a batch span
// processor to an exporter that discards, and the metrics aggregated by
// the SDK) and sampled out (the same SDK, a sampler that records nothing).
var benchRows = []string{"off", "sampled", "sampled-out"}

// benchServer serves an echo endpoint with the row's middleware, and
// counts the connections that ended.
type benchServer struct {
	url   string
	ended atomic.Int64
}

func newBenchServer(b *testing.B, row string) *benchServer {
	b.Helper()
	s := &benchServer{}
	reg := lifecycle.NewRegistry()
	var h http.Handler = middleware.Handler(reg, conntest.Serve(conntest.Echo))
	h = middleware.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) { s.ended.Add(1) })(h)
	if row != "off" {
		sampler := sdktrace.AlwaysSample()
		if row == "sampled-out" {
			sampler = sdktrace.NeverSample()
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler),
			sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() {
			tp.Shutdown(context.Background())
			mp.Shutdown(context.Background())
		})
		tel, err := otel.New(otel.WithTracerProvider(tp), otel.WithMeterProvider(mp))
		if err != nil {
			b.Fatal(err)
		}
		h = tel.Middleware(h)
	}
	s.url = wstest.Server(b, h) + "/ws"
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		reg.Shutdown(ctx)
	})
	return s
}

// BenchmarkUpgrade: each op is one upgrade (8 clients dialing at once)
// after which the client drops TCP; the timer runs until the server has
// ended every connection (and its span).
func BenchmarkUpgrade(b *testing.B) {
	for _, row := range benchRows {
		b.Run(row, func(b *testing.B) {
			s := newBenchServer(b, row)
			b.ReportAllocs()
			b.ResetTimer()
			var (
				next atomic.Int64
				wg   sync.WaitGroup
			)
			for range 8 {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						ws, _, err := websocket.DefaultDialer.Dial(s.url, nil)
						if err != nil {
							b.Error(err)
							return
						}
						ws.Close()
					}
				})
			}
			wg.Wait()
			deadline := time.Now().Add(30 * time.Second)
			for s.ended.Load() < int64(b.N) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond) // polling the server's count, not synchronising a test
			}
		})
	}
}

// BenchmarkEcho: each op is one round trip of a 64-byte binary message, on
// a connection per parallel goroutine.
func BenchmarkEcho(b *testing.B) {
	for _, row := range benchRows {
		b.Run(row, func(b *testing.B) {
			s := newBenchServer(b, row)
			msg := make([]byte, 64)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ws, _, err := websocket.DefaultDialer.Dial(s.url, nil)
				if err != nil {
					b.Error(err)
					return
				}
				defer ws.Close()
				for pb.Next() {
					if err := ws.WriteMessage(websocket.BinaryMessage, msg); err != nil {
						b.Error(err)
						return
					}
					if _, _, err := ws.ReadMessage(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
