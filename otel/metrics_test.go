package otel_test

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/otel"
	"github.com/wsmw/wsmw/ratelimit"
	"github.com/wsmw/wsmw/timeout"
)

// TestScriptedMetrics drives a real server through one connection per kind
// of end and a few refusals, then reads the metrics to the exact count:
// the same run as the metrics module's, the same figures.
func TestScriptedMetrics(t *testing.T) {
	h := newHarness(t, setup{policies: []func(http.Handler) http.Handler{ratelimit.MaxMessageSize(1024)}})

	for range 2 { // handler returns: 1000, local
		c := h.dial()
		echo(t, c, "hello")
		c.WriteText("quit")
		if code, _ := answerClose(t, c); code != 1000 {
			t.Fatalf("quit: code %d", code)
		}
		h.next()
	}
	for _, code := range []int{1001, 4001} { // peer closes; 4001 folded into 4xxx
		peerClose(t, h.dial(), code, "")
		h.next()
	}
	c := h.dial() // abnormal: the client resets TCP
	c.Reset()
	h.next()
	c = h.dial() // message too big: 1009, local
	c.WriteText(strings.Repeat("x", 2000))
	if code, _ := answerClose(t, c); code != 1009 {
		t.Fatalf("too big: code %d", code)
	}
	h.next()
	c = h.dial("X-Sub: alice") // revoked: 1008, local
	echo(t, c, "ready")
	h.reg.Revoke("alice")
	if code, _ := answerClose(t, c); code != 1008 {
		t.Fatalf("revoke: code %d", code)
	}
	h.next()
	c = h.dial() // handler panic: 1011, local
	c.WriteText("panic")
	if code, _ := answerClose(t, c); code != 1011 {
		t.Fatalf("panic: code %d", code)
	}
	h.next()
	h.refused(401, "X-Deny: 401")
	h.refused(401, "X-Deny: 401")
	h.refused(429, "X-Deny: 429")
	h.refused(403, "Origin: http://evil.example")
	c = h.dial() // shutdown: 1001 local, then 503
	echo(t, c, "ready")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- h.reg.Shutdown(ctx)
	}()
	if code, _ := answerClose(t, c); code != 1001 {
		t.Fatalf("shutdown: code %d", code)
	}
	h.next()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	h.refused(503)

	m := h.collect()
	wantCloses := map[string]int64{
		"websocket.close.code=1000,websocket.close.initiator=local,wsmw.close.cause=handler_returned":   2,
		"websocket.close.code=1001,websocket.close.initiator=peer,wsmw.close.cause=peer_closed":         1,
		"websocket.close.code=4xxx,websocket.close.initiator=peer,wsmw.close.cause=peer_closed":         1,
		"websocket.close.code=1006,websocket.close.initiator=abnormal,wsmw.close.cause=connection_lost": 1,
		"websocket.close.code=1009,websocket.close.initiator=local,wsmw.close.cause=message_too_big":    1,
		"websocket.close.code=1008,websocket.close.initiator=local,wsmw.close.cause=revoked":            1,
		"websocket.close.code=1011,websocket.close.initiator=local,wsmw.close.cause=handler_panic":      1,
		"websocket.close.code=1001,websocket.close.initiator=local,wsmw.close.cause=shutdown":           1,
	}
	if got := sums(t, m["wsmw.connections.closed"]); !maps.Equal(got, wantCloses) {
		t.Errorf("closes:\n got %v\nwant %v", got, wantCloses)
	}
	wantRejections := map[string]int64{
		"http.response.status_code=401": 2,
		"http.response.status_code=403": 1,
		"http.response.status_code=429": 1,
		"http.response.status_code=503": 1,
	}
	if got := sums(t, m["wsmw.upgrades.rejected"]); !maps.Equal(got, wantRejections) {
		t.Errorf("rejections:\n got %v\nwant %v", got, wantRejections)
	}
	for name, want := range map[string]map[string]int64{
		"wsmw.connections.opened": {"": 9},
		"wsmw.connections.active": {"": 0},
		// In: hello, quit, hello, quit, ready, panic, ready (the 2000-byte
		// message was refused by the read limit); out: four echoes.
		"wsmw.messages": {"network.io.direction=receive": 7, "network.io.direction=transmit": 4},
		"wsmw.bytes":    {"network.io.direction=receive": 33, "network.io.direction=transmit": 20},
	} {
		if got := sums(t, m[name]); !maps.Equal(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if n := histCount(t, m["wsmw.session.duration"]); n != 9 {
		t.Errorf("session durations: %d, want 9", n)
	}
	if n := histCount(t, m["wsmw.ping.rtt"]); n != 0 {
		t.Errorf("ping round trips: %d, want 0", n)
	}
}

// TestActiveWhileOpen checks the open connections and their messages while
// they are open.
func TestActiveWhileOpen(t *testing.T) {
	h := newHarness(t, setup{})
	a, b := h.dial(), h.dial()
	echo(t, a, "x") // the attachment has run once the server echoes
	echo(t, b, "x")
	m := h.collect()
	if got := sums(t, m["wsmw.connections.active"])[""]; got != 2 {
		t.Fatalf("active %d, want 2", got)
	}
	// lifecycle counts a message before writing it, so both echoes are
	// counted by the time the clients have read them.
	if got := sums(t, m["wsmw.messages"]); got["network.io.direction=transmit"] != 2 || got["network.io.direction=receive"] != 2 {
		t.Fatalf("messages while open %v, want 2 each way", got)
	}
	peerClose(t, a, 1000, "")
	h.next()
	m = h.collect()
	if got := sums(t, m["wsmw.connections.active"])[""]; got != 1 {
		t.Fatalf("active after one close %d, want 1", got)
	}
	if got := sums(t, m["wsmw.messages"]); got["network.io.direction=transmit"] != 2 {
		t.Fatalf("messages after one close %v: the ended connection's must stay counted", got)
	}
	peerClose(t, b, 1000, "")
	h.next()
}

// TestPingRTTMetric: the heartbeat's round trips reach wsmw.ping.rtt.
func TestPingRTTMetric(t *testing.T) {
	// The middleware's RTT hook is added first (outermost); the watcher's
	// runs after it, so each value it sees has been recorded.
	watch, seen := conntest.WatchRTT()
	h := newHarness(t, setup{policies: []func(http.Handler) http.Handler{timeout.Heartbeat(20*time.Millisecond, 5*time.Second), watch}})
	c := h.dial()
	defer c.Close()
	c.WriteText("x") // the handler reads, so pongs are processed
	conntest.AnswerPings(t, c, seen, 3)
	if n := histCount(t, h.collect()["wsmw.ping.rtt"]); n < 3 {
		t.Fatalf("ping round trips %d, want >= 3", n)
	}
	peerClose(t, c, 1000, "")
	h.next()
}

// TestPeerCodesAndCauses checks WithPeerCodes and WithCause, in metrics and
// spans (which keep the exact code).
func TestPeerCodesAndCauses(t *testing.T) {
	h := newHarness(t, setup{opts: []otel.Option{
		otel.WithPeerCodes(4001),
		otel.WithCause(lifecycle.ErrPeerClosed, "client_left"),
	}})
	for i, code := range []int{4001, 4002, 3003} {
		tp, traceID, _ := traceparent(20 + i)
		peerClose(t, h.dial(tp), code, "")
		h.next()
		wantAttrs(t, "span", h.connSpan(traceID).Attributes(), map[string]string{
			"websocket.close.code": strconv.Itoa(code),
			"wsmw.close.cause":     "client_left",
		})
	}
	want := map[string]int64{
		"websocket.close.code=4001,websocket.close.initiator=peer,wsmw.close.cause=client_left": 1,
		"websocket.close.code=4xxx,websocket.close.initiator=peer,wsmw.close.cause=client_left": 1,
		"websocket.close.code=3xxx,websocket.close.initiator=peer,wsmw.close.cause=client_left": 1,
	}
	if got := sums(t, h.collect()["wsmw.connections.closed"]); !maps.Equal(got, want) {
		t.Fatalf("closes:\n got %v\nwant %v", got, want)
	}
}

// TestNonUpgradePassesThrough: a plain request is neither traced nor
// counted.
func TestNonUpgradePassesThrough(t *testing.T) {
	h := newHarness(t, setup{})
	resp, err := http.Get("http" + strings.TrimPrefix(h.ws, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("status %d, want 426", resp.StatusCode)
	}
	if got := sums(t, h.collect()["wsmw.upgrades.rejected"]); got["http.response.status_code=426"] != 0 {
		t.Fatalf("a plain GET counted as a rejection: %v", got)
	}
	if n := len(h.spans.Ended()); n != 0 {
		t.Fatalf("a plain GET made %d spans", n)
	}
}
