package otel_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/otel"
)

// TestSpanPeriod: with WithSpanPeriod(1m), a connection of 2.5 minutes (on
// synctest's fake clock) is three spans in the upgrade's trace, under the
// same parent; the later ones link to the first and number their period;
// each carries the messages so far, and only the last one the close.
func TestSpanPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
		mp := sdkmetric.NewMeterProvider()
		defer tp.Shutdown(context.Background())
		defer mp.Shutdown(context.Background())
		tel, err := otel.New(otel.WithTracerProvider(tp), otel.WithMeterProvider(mp),
			otel.WithPropagator(propagation.TraceContext{}), otel.WithSpanPeriod(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		reg := lifecycle.NewRegistry()
		ended := make(chan struct{})
		var h http.Handler = middleware.Handler(reg, conntest.Serve(conntest.Echo))
		h = middleware.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) { close(ended) })(h)
		h = tel.Middleware(h)

		tp1, traceID, parentID := traceparent(30)
		field, value, _ := strings.Cut(tp1, ": ")
		ws, _, err := wstest.PipeDial(h, "/ws", http.Header{field: {value}})
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte("a")); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "a" {
			t.Fatalf("echo: %q %v", msg, err)
		}
		start := time.Now()
		time.Sleep(150 * time.Second)
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"), time.Now().Add(time.Second))
		if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, 4000) {
			t.Fatalf("close echo: %v", err)
		}
		ws.Close()
		<-ended
		reg.Shutdown(context.Background())

		var spans []sdktrace.ReadOnlySpan
		for _, s := range rec.Ended() {
			if s.SpanContext().TraceID().String() == traceID {
				spans = append(spans, s)
			}
		}
		if len(spans) != 3 {
			t.Fatalf("%d spans in the trace, want 3: %v", len(spans), names(rec.Ended()))
		}
		first := spans[0].SpanContext()
		for i, s := range spans {
			if s.Parent().SpanID().String() != parentID {
				t.Errorf("span %d: parent %v, want the traceparent's", i, s.Parent().SpanID())
			}
			want := map[string]string{
				"wsmw.span.period":            []string{"0", "1", "2"}[i],
				"websocket.messages.received": "1",
				"websocket.messages.sent":     "1",
				"websocket.close.code":        "-",
			}
			if i == 2 {
				want["websocket.close.code"], want["websocket.close.reason"] = "4000", "bye"
			}
			wantAttrs(t, "span "+want["wsmw.span.period"], s.Attributes(), want)
			links := s.Links()
			switch {
			case i == 0 && len(links) != 0:
				t.Errorf("the first span has links: %v", links)
			case i > 0 && (len(links) != 1 || links[0].SpanContext.SpanID() != first.SpanID()):
				t.Errorf("span %d links %v, want the first span", i, links)
			}
		}
		if d := spans[0].EndTime().Sub(start); d < 59*time.Second || d > time.Minute {
			t.Errorf("the first period ended %v after the echo, want about 1m", d)
		}
		if got := events(spans[2]); len(got) != 1 || got[0] != "wsmw.close" {
			t.Errorf("last span's events %v, want the close", got)
		}
	})
}
