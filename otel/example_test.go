package otel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	wsotel "github.com/wsmw/wsmw/otel"
)

// A connection whose upgrade request carries a traceparent is a span in
// that trace; the client closes it with 4000 "bye", and the span says so.
// Here the spans go to an in-memory recorder; a server gives the SDK an
// exporter instead (OTLP: see the example server).
func Example() {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	tel, err := wsotel.New(wsotel.WithTracerProvider(tp), wsotel.WithPropagator(propagation.TraceContext{}))
	if err != nil {
		panic(err)
	}

	reg := lifecycle.NewRegistry()
	ended := make(chan struct{})
	echo := middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(mt, msg)
		}
	})
	mux := http.NewServeMux()
	mux.Handle("/ws", tel.Middleware(middleware.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) { close(ended) })(echo)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	header := http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", header)
	if err != nil {
		panic(err)
	}
	ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	ws.ReadMessage()
	ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"))
	ws.ReadMessage() // the server's echo of the Close
	ws.Close()
	<-ended
	reg.Shutdown(context.Background())

	s := rec.Ended()[0]
	fmt.Println(s.Name(), s.SpanContext().TraceID())
	got := make(map[string]string)
	for _, kv := range s.Attributes() {
		got[string(kv.Key)] = kv.Value.String()
	}
	for _, k := range []string{"websocket.close.code", "websocket.close.reason", "websocket.close.initiator", "wsmw.close.cause", "websocket.messages.received"} {
		fmt.Println(k, got[k])
	}
	// Output:
	// websocket /ws 4bf92f3577b34da6a3ce929d0e0e4736
	// websocket.close.code 4000
	// websocket.close.reason bye
	// websocket.close.initiator peer
	// wsmw.close.cause peer_closed
	// websocket.messages.received 1
}

// A handler adds events of its own to its connection's span, and puts the
// span in the contexts of the calls whose spans belong under it.
func ExampleSpanOf() {
	handler := func(c *lifecycle.Conn, _ *http.Request) {
		wsotel.SpanOf(c).AddEvent("room.joined")
		ctx := trace.ContextWithSpan(c.Context(), wsotel.SpanOf(c))
		_ = ctx // pass it to the calls made for this connection
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}
	_ = middleware.Handler(lifecycle.NewRegistry(), handler)
}
