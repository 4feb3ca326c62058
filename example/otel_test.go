package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/wsmw/wsmw/internal/wstest"
)

// TestOpenTelemetry runs the example as a user would, once with
// OTEL_EXPORTER_OTLP_ENDPOINT set to a receiver the test runs and once
// without it.
func TestOpenTelemetry(t *testing.T) {
	bin := programs.Build(t, ".")
	t.Run("exports over OTLP", func(t *testing.T) { otlpExport(t, bin) })
	t.Run("off without the variable", func(t *testing.T) { otlpOff(t, bin) })
}

// otlpExport: with the standard variables set (the endpoint, gzip, the
// service name, and export intervals of a minute, so that nothing leaves
// before the flush at exit), three upgrades carrying a traceparent yield a
// span each in their trace, under otelhttp's span of the upgrade request,
// whose attributes hold the CloseInfo's code and reason: a client's close
// (4000 "bye"), a revocation (1008 "session revoked") and a SIGTERM (1001
// "server shutting down"). The example exits 0 with every span and the
// metrics delivered.
func otlpExport(t *testing.T, bin string) {
	rc := newReceiver(t)
	ex := startBinary(t, bin, []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + rc.URL,
		"OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
		"OTEL_SERVICE_NAME=wsmw-e2e",
		"OTEL_BSP_SCHEDULE_DELAY=60000",
		"OTEL_METRIC_EXPORT_INTERVAL=60000",
	})
	if !strings.Contains(ex.banner, "OpenTelemetry: exporting over OTLP/HTTP (traces true, metrics true)") {
		t.Errorf("banner does not say it exports:\n%s", ex.banner)
	}
	type conn struct {
		sub, traceID, parentID string
		ws                     *websocket.Conn
	}
	conns := make([]conn, 3)
	for i, sub := range []string{"otel-bye", "otel-revoked", "otel-sigterm"} {
		traceID := fmt.Sprintf("%032x", 0xa11ce0000+i)
		parentID := fmt.Sprintf("%016x", 0xb0b0000+i)
		ws, resp, err := websocket.DefaultDialer.Dial(ex.wsURL, http.Header{
			"Authorization": {"Bearer " + getToken(t, ex.base, sub, "1m")},
			"Traceparent":   {"00-" + traceID + "-" + parentID + "-01"},
		})
		if err != nil {
			t.Fatalf("dial %s: %v (%v)", sub, err, resp)
		}
		defer ws.Close()
		if r := command(t, ws, map[string]string{"type": "hello"}); r["type"] != "hello" {
			t.Fatalf("%s: echo %v", sub, r)
		}
		conns[i] = conn{sub, traceID, parentID, ws}
	}

	// The client closes: 4000 "bye".
	bye := conns[0].ws
	bye.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"), time.Now().Add(5*time.Second))
	bye.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := bye.ReadMessage(); !websocket.IsCloseError(err, 4000) {
		t.Fatalf("the server's echo of 4000: %v", err)
	}
	// A revocation: 1008 "session revoked".
	if status, body := postRevoke(t, ex.base, "otel-revoked", nil); status != http.StatusOK || !strings.Contains(body, `"revoked":1`) {
		t.Fatalf("revoke: %d %s", status, body)
	}
	revoked := conns[1].ws
	revoked.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := revoked.ReadMessage(); !websocket.IsCloseError(err, 1008) {
		t.Fatalf("revoked client saw %v", err)
	}
	if n := rc.requestsTo("/v1/traces"); n != 0 {
		t.Fatalf("%d trace exports before the exit, with OTEL_BSP_SCHEDULE_DELAY=60000", n)
	}
	// SIGTERM: 1001 "server shutting down", and the spans flushed before
	// the process exits 0.
	ex.cmd.Process.Signal(syscall.SIGTERM)
	last := conns[2].ws
	last.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := last.ReadMessage(); !websocket.IsCloseError(err, 1001) {
		t.Fatalf("client saw %v at SIGTERM", err)
	}
	ex.wait(t)

	rc.mu.Lock()
	services, gzipped := rc.services, rc.gzipped
	rc.mu.Unlock()
	if !services["wsmw-e2e"] || gzipped == 0 {
		t.Errorf("service names %v, gzipped exports %d: OTEL_SERVICE_NAME and OTEL_EXPORTER_OTLP_COMPRESSION must apply", services, gzipped)
	}
	for i, want := range []struct {
		code                     string
		reason, cause, initiator string
	}{
		{"4000", "bye", "peer_closed", "peer"},
		{"1008", "session revoked", "revoked", "local"},
		{"1001", "server shutting down", "shutdown", "local"},
	} {
		c := conns[i]
		spans := rc.spansOf(c.traceID)
		var upgrade, ws *tracepb.Span
		for _, s := range spans {
			switch {
			case strings.HasPrefix(s.GetName(), "websocket"):
				ws = s
			case hex.EncodeToString(s.GetParentSpanId()) == c.parentID:
				upgrade = s
			}
		}
		if ws == nil || upgrade == nil {
			t.Errorf("%s: trace %s has %d spans, want otelhttp's and the connection's", c.sub, c.traceID, len(spans))
			continue
		}
		if !bytes.Equal(ws.GetParentSpanId(), upgrade.GetSpanId()) {
			t.Errorf("%s: the connection's span is not a child of the upgrade request's", c.sub)
		}
		a := ws.GetAttributes()
		got := fmt.Sprintf("%s %q %s %s", attrValue(a, "websocket.close.code"), attrValue(a, "websocket.close.reason"),
			attrValue(a, "wsmw.close.cause"), attrValue(a, "websocket.close.initiator"))
		if w := fmt.Sprintf("%s %q %s %s", want.code, want.reason, want.cause, want.initiator); got != w || !attrIsInt(a, "websocket.close.code") {
			t.Errorf("%s: span says %s (code an int: %v), want %s", c.sub, got, attrIsInt(a, "websocket.close.code"), w)
		}
		if attrValue(a, "enduser.id") != "" {
			t.Errorf("%s: the span holds the subject, which the example does not opt into", c.sub)
		}
		closeEvent := false
		for _, e := range ws.GetEvents() {
			closeEvent = closeEvent || (e.GetName() == "wsmw.close" && attrValue(e.GetAttributes(), "wsmw.close.cause") == want.cause)
		}
		if !closeEvent {
			t.Errorf("%s: no wsmw.close event with cause %s", c.sub, want.cause)
		}
	}
	// The metrics, flushed at exit too.
	for _, m := range []struct {
		name  string
		attrs []string
		want  int64
	}{
		{"wsmw.connections.opened", nil, 3},
		{"wsmw.connections.active", nil, 0},
		{"wsmw.connections.closed", []string{"websocket.close.code=4xxx", "wsmw.close.cause=peer_closed"}, 1},
		{"wsmw.connections.closed", []string{"websocket.close.code=1008", "wsmw.close.cause=revoked"}, 1},
		{"wsmw.connections.closed", []string{"websocket.close.code=1001", "wsmw.close.cause=shutdown"}, 1},
	} {
		if got, ok := rc.sum(m.name, m.attrs...); !ok || got != m.want {
			t.Errorf("%s %v = %d (found %v), want %d", m.name, m.attrs, got, ok, m.want)
		}
	}
}

// otlpOff: without OTEL_EXPORTER_OTLP_ENDPOINT (and with every other
// OTEL_* variable unset) the example says so, starts no SDK and exports
// nothing: nothing connects to the default OTLP/HTTP address,
// localhost:4318, which the test listens on when it is free.
func otlpOff(t *testing.T, bin string) {
	var accepted sync.WaitGroup
	var mu sync.Mutex
	attempts := 0
	if ln, err := net.Listen("tcp", "127.0.0.1:4318"); err != nil {
		t.Logf("localhost:4318 is taken (%v): not watching it", err)
	} else {
		t.Cleanup(func() { ln.Close(); accepted.Wait() })
		accepted.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				attempts++
				mu.Unlock()
				c.Close()
			}
		})
	}
	ex := startBinary(t, bin, nil)
	if !strings.Contains(ex.banner, "OpenTelemetry: off") {
		t.Errorf("banner does not say OpenTelemetry is off:\n%s", ex.banner)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(ex.wsURL, http.Header{
		"Authorization": {"Bearer " + getToken(t, ex.base, "otel-off", "1m")},
		"Traceparent":   {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
	})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer ws.Close()
	if r := command(t, ws, map[string]string{"type": "hello"}); r["type"] != "hello" {
		t.Fatalf("echo %v", r)
	}
	ex.cmd.Process.Signal(syscall.SIGTERM)
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, 1001) {
		t.Fatalf("client saw %v at SIGTERM", err)
	}
	ex.wait(t)
	mu.Lock()
	defer mu.Unlock()
	if attempts != 0 {
		t.Errorf("%d connections to localhost:4318 without OTEL_EXPORTER_OTLP_ENDPOINT", attempts)
	}
}

// TestOpenTelemetryOffStartsNoSDK: without the variables the part starts
// no SDK, leaves the global providers alone (no-op) and adds no
// middleware; a signal's own endpoint, or the common one, turns its signal
// on, and OTEL_SDK_DISABLED or OTEL_<signal>_EXPORTER=none off.
func TestOpenTelemetryOffStartsNoSDK(t *testing.T) {
	for env, want := range map[string][2]bool{
		"":                                     {false, false},
		"OTEL_SERVICE_NAME=x":                  {false, false},
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://c": {true, true},
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://c":                     {true, false},
		"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://c":                    {false, true},
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://c,OTEL_SDK_DISABLED=true":     {false, false},
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://c,OTEL_METRICS_EXPORTER=none": {true, false},
	} {
		vars := map[string]string{}
		for _, kv := range strings.Split(env, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				vars[k] = v
			}
		}
		p := &otelPart{getenv: func(k string) string { return vars[k] }}
		if tr, me := p.signals(); tr != want[0] || me != want[1] {
			t.Errorf("%q: traces %v metrics %v, want %v", env, tr, me, want)
		}
	}

	p := &otelPart{getenv: func(string) string { return "" }}
	var ws []func(http.Handler) http.Handler
	if err := p.setup(&app{log: slog.New(slog.NewTextHandler(io.Discard, nil))}, chi.NewRouter(), &ws); err != nil {
		t.Fatal(err)
	}
	if p.tp != nil || p.mp != nil || len(ws) != 0 {
		t.Errorf("off: tracer provider %v, meter provider %v, %d middleware", p.tp, p.mp, len(ws))
	}
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); ok {
		t.Error("the global tracer provider is the SDK's")
	}
	if _, ok := otel.GetMeterProvider().(*sdkmetric.MeterProvider); ok {
		t.Error("the global meter provider is the SDK's")
	}
	p.shutdown(context.Background()) // nothing to do, and no panic
}

// example is a run of the example's binary.
type example struct {
	cmd           *exec.Cmd
	base, wsURL   string
	banner        string
	stderr        *wstest.Buffer
	exited        chan error
	waitedForExit bool
}

// startBinary starts bin on a free port with the environment of the test
// less every OTEL_* variable, plus env.
func startBinary(t *testing.T, bin string, env []string) *example {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-shutdown-timeout", "5s")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	ex := &example{cmd: cmd, stderr: new(wstest.Buffer), exited: make(chan error, 1)}
	cmd.Stderr = ex.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The banner: the URL first, and the OpenTelemetry line among the
	// parts' lines.
	br := bufio.NewReader(stdout)
	var banner strings.Builder
	for !strings.HasPrefix(banner.String(), "wsmw example listening on ") || !strings.Contains(banner.String(), "OpenTelemetry:") {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("banner: %v after %q", err, banner.String())
		}
		banner.WriteString(line)
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "wsmw example listening on "); ok {
			ex.base = rest
		}
	}
	ex.banner = banner.String()
	go io.Copy(io.Discard, br)
	go func() { ex.exited <- cmd.Wait() }()
	ex.wsURL = "ws" + strings.TrimPrefix(ex.base, "http") + "ws"
	t.Cleanup(func() {
		if !ex.waitedForExit {
			cmd.Process.Kill()
			<-ex.exited
		}
		if t.Failed() {
			t.Logf("example's stderr:\n%s", ex.stderr.String())
		}
	})
	return ex
}

// wait waits for the example to exit, and fails t unless it exits 0.
func (ex *example) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-ex.exited:
		ex.waitedForExit = true
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the example did not exit within 20s")
	}
}
