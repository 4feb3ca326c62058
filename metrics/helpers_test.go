package metrics_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/metrics"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/ratelimit"
)

// harness is a real server: /ws behind the metrics middleware, a policy
// that refuses on request (X-Deny: status) and sets the subject (X-Sub),
// and /metrics on a private registry.
type harness struct {
	t     *testing.T
	reg   *lifecycle.Registry
	ws    string // ws:// URL of /ws
	http  string // http:// base URL
	ended chan lifecycle.CloseInfo
}

func newHarness(t *testing.T, opts []metrics.Option, policies ...func(http.Handler) http.Handler) *harness {
	t.Helper()
	prom := prometheus.NewRegistry()
	m, err := metrics.New(prom, opts...)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, reg: lifecycle.NewRegistry(), ended: make(chan lifecycle.CloseInfo, 64)}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ws http.Handler = ratelimit.MaxMessageSize(1024)(middleware.Handler(h.reg, conntest.Serve(conntest.Script), middleware.WithLogger(quiet)))
	ws = middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { h.ended <- info })(ws)
	for i := len(policies) - 1; i >= 0; i-- {
		ws = policies[i](ws)
	}
	ws = conntest.Deny(ws)
	ws = m.Middleware(ws)
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	mux.Handle("/metrics", promhttp.HandlerFor(prom, promhttp.HandlerOpts{}))
	base := wstest.Server(t, mux)
	h.ws = base + "/ws"
	h.http = "http" + strings.TrimPrefix(base, "ws")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.reg.Shutdown(ctx)
	})
	return h
}

// dial opens a connection with extra header fields ("Name: value").
func (h *harness) dial(fields ...string) *wstest.RawClient {
	h.t.Helper()
	hdr := http.Header{}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, ": ")
		hdr.Set(k, v)
	}
	c, err := wstest.DialRaw(h.ws, hdr)
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	return c
}

// ready waits until c's connection is registered and its attachments have
// run: the handler echoes only after both.
func ready(t *testing.T, c *wstest.RawClient) {
	t.Helper()
	c.WriteText("ready")
	if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "ready" {
		t.Fatalf("echo: %v %q", err, f.Payload)
	}
}

// refused dials and expects the HTTP status want.
func (h *harness) refused(want int, fields ...string) {
	h.t.Helper()
	hdr := http.Header{}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, ": ")
		hdr.Set(k, v)
	}
	c, err := wstest.DialRaw(h.ws, hdr)
	if err == nil {
		c.Close()
		h.t.Fatalf("dial %v: upgraded, want %d", fields, want)
	}
	if c == nil || c.Response == nil || c.Response.StatusCode != want {
		h.t.Fatalf("dial %v: %v, want status %d", fields, err, want)
	}
}

// next waits for the next connection's end, as seen by an OnClose hook
// that runs after the metrics' own.
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

// answerClose reads until the server's Close, echoes it, and waits for TCP
// to close. It returns the server's code.
func answerClose(t *testing.T, c *wstest.RawClient) int {
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
	return f.CloseCode()
}

// peerClose writes a Close with code, reads the server's echo and waits for
// TCP to close. It returns the echoed code.
func peerClose(t *testing.T, c *wstest.RawClient, code int) int {
	t.Helper()
	c.WriteClose(code, "bye")
	f, _, err := c.ReadUntilClose(5 * time.Second)
	if err != nil {
		t.Fatalf("no echo of the Close: %v", err)
	}
	if _, err := c.WaitEOF(5 * time.Second); err != nil {
		t.Fatalf("server did not close TCP: %v", err)
	}
	c.Close()
	return f.CloseCode()
}

// scrape fetches /metrics and returns the samples of the wsmw_ families,
// keyed by name{labels} as exposed.
func (h *harness) scrape() map[string]string {
	h.t.Helper()
	resp, err := http.Get(h.http + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := make(map[string]string)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "wsmw_") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		out[line[:i]] = line[i+1:]
	}
	if err := sc.Err(); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// family returns the samples whose key starts with prefix.
func family(samples map[string]string, prefix string) map[string]string {
	out := make(map[string]string)
	for k, v := range samples {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}
