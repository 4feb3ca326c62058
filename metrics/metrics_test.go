package metrics_test

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/metrics"
	"github.com/wsmw/wsmw/timeout"
)

// TestScriptedRun drives a real server through one connection per kind of
// end and a few refusals, then checks /metrics to the exact count.
func TestScriptedRun(t *testing.T) {
	h := newHarness(t, nil)

	// Two handler returns: 1000, local.
	for range 2 {
		c := h.dial()
		c.WriteText("hello")
		if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "hello" {
			t.Fatalf("echo: %v %q", err, f.Payload)
		}
		c.WriteText("quit")
		if code := answerClose(t, c); code != 1000 {
			t.Fatalf("quit: code %d", code)
		}
		h.next()
	}
	// Peer closes: 1001, and an application code folded into 4xxx.
	for _, code := range []int{1001, 4001} {
		c := h.dial()
		if got := peerClose(t, c, code); got != code {
			t.Fatalf("echo of %d: %d", code, got)
		}
		h.next()
	}
	// Abnormal: the client resets TCP.
	c := h.dial()
	c.Reset()
	h.next()
	// Message too big: 1009, local.
	c = h.dial()
	c.WriteText(strings.Repeat("x", 2000))
	if code := answerClose(t, c); code != 1009 {
		t.Fatalf("too big: code %d", code)
	}
	h.next()
	// Revoked: 1008, local.
	c = h.dial("X-Sub: alice")
	ready(t, c)
	if n := h.reg.Revoke("alice"); n != 1 {
		t.Fatalf("revoked %d connections", n)
	}
	if code := answerClose(t, c); code != 1008 {
		t.Fatalf("revoke: code %d", code)
	}
	h.next()
	// The application's own code: 4408, local.
	c = h.dial()
	c.WriteText("4408")
	if code := answerClose(t, c); code != 4408 {
		t.Fatalf("4408: code %d", code)
	}
	h.next()
	// Handler panic: 1011, local.
	c = h.dial()
	c.WriteText("panic")
	if code := answerClose(t, c); code != 1011 {
		t.Fatalf("panic: code %d", code)
	}
	h.next()
	// Refusals before the upgrade.
	h.refused(401, "X-Deny: 401")
	h.refused(401, "X-Deny: 401")
	h.refused(429, "X-Deny: 429")
	h.refused(403, "Origin: http://evil.example")
	// Shutdown: 1001 local, then 503.
	c = h.dial()
	ready(t, c)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- h.reg.Shutdown(ctx)
	}()
	if code := answerClose(t, c); code != 1001 {
		t.Fatalf("shutdown: code %d", code)
	}
	h.next()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	h.refused(503)

	got := h.scrape()
	// Four echoes: hello, hello, ready, ready.
	if out := got["wsmw_messages_out_total"]; out != "4" {
		t.Errorf("wsmw_messages_out_total = %s, want 4", out)
	}
	wantCloses := map[string]string{
		`wsmw_closes_total{cause="handler_returned",code="1000",initiator="local"}`:   "2",
		`wsmw_closes_total{cause="peer_closed",code="1001",initiator="peer"}`:         "1",
		`wsmw_closes_total{cause="peer_closed",code="4xxx",initiator="peer"}`:         "1",
		`wsmw_closes_total{cause="connection_lost",code="1006",initiator="abnormal"}`: "1",
		`wsmw_closes_total{cause="message_too_big",code="1009",initiator="local"}`:    "1",
		`wsmw_closes_total{cause="revoked",code="1008",initiator="local"}`:            "1",
		`wsmw_closes_total{cause="application",code="4408",initiator="local"}`:        "1",
		`wsmw_closes_total{cause="handler_panic",code="1011",initiator="local"}`:      "1",
		`wsmw_closes_total{cause="shutdown",code="1001",initiator="local"}`:           "1",
	}
	if closes := family(got, "wsmw_closes_total"); !maps.Equal(closes, wantCloses) {
		t.Errorf("closes:\n got %v\nwant %v", closes, wantCloses)
	}
	wantRejections := map[string]string{
		`wsmw_rejections_total{status="401"}`: "2",
		`wsmw_rejections_total{status="403"}`: "1",
		`wsmw_rejections_total{status="429"}`: "1",
		`wsmw_rejections_total{status="503"}`: "1",
	}
	if rej := family(got, "wsmw_rejections_total"); !maps.Equal(rej, wantRejections) {
		t.Errorf("rejections:\n got %v\nwant %v", rej, wantRejections)
	}
	for k, want := range map[string]string{
		"wsmw_connections_total":                          "10",
		"wsmw_connections_active":                         "0",
		"wsmw_session_duration_seconds_count":             "10",
		"wsmw_messages_in_total":                          "8",  // hello, quit, hello, quit, ready, 4408, panic, ready
		"wsmw_bytes_in_total":                             "37", // 5+4+5+4+5+4+5+5; the 2000-byte message was refused by the read limit
		"wsmw_ping_rtt_seconds_count":                     "0",
		`wsmw_session_duration_seconds_bucket{le="+Inf"}`: "10",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
}

// TestActiveWhileOpen checks the gauge and the total while connections are
// open.
func TestActiveWhileOpen(t *testing.T) {
	h := newHarness(t, nil)
	a, b := h.dial(), h.dial()
	// The attachment has run once the server echoes.
	for _, c := range []*wstest.RawClient{a, b} {
		c.WriteText("x")
		if _, err := c.ReadFrame(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	got := h.scrape()
	if got["wsmw_connections_active"] != "2" || got["wsmw_connections_total"] != "2" {
		t.Fatalf("active %q total %q, want 2 and 2", got["wsmw_connections_active"], got["wsmw_connections_total"])
	}
	// lifecycle counts a message before writing it, so both echoes are
	// counted by the time the clients have read them.
	if out := got["wsmw_messages_out_total"]; out != "2" {
		t.Fatalf("messages out %q while open, want 2", out)
	}
	peerClose(t, a, 1000)
	h.next()
	if got := h.scrape(); got["wsmw_connections_active"] != "1" || got["wsmw_messages_out_total"] != "2" {
		t.Fatalf("after one close: active %q, messages out %q; want 1 and 2", got["wsmw_connections_active"], got["wsmw_messages_out_total"])
	}
	peerClose(t, b, 1000)
	h.next()
}

// TestPingRTT checks that the heartbeat's round trips reach the histogram.
func TestPingRTT(t *testing.T) {
	// The metrics' RTT hook is added first (outermost policy); the
	// watcher's runs after it, so each value it sees has been observed by
	// the histogram.
	watch, seen := conntest.WatchRTT()
	h := newHarness(t, nil, timeout.Heartbeat(20*time.Millisecond, 5*time.Second), watch)
	c := h.dial()
	defer c.Close()
	c.WriteText("x") // the handler reads, so pongs are processed
	conntest.AnswerPings(t, c, seen, 3)
	if n, _ := strconv.Atoi(h.scrape()["wsmw_ping_rtt_seconds_count"]); n < 3 {
		t.Fatalf("ping rtt count %d, want >= 3", n)
	}
	peerClose(t, c, 1000)
	h.next()
}

// TestPeerCodesAndCauses checks WithPeerCodes and WithCause.
func TestPeerCodesAndCauses(t *testing.T) {
	h := newHarness(t, []metrics.Option{
		metrics.WithPeerCodes(4001),
		metrics.WithCause(lifecycle.ErrPeerClosed, "client_left"),
	})
	for _, code := range []int{4001, 4002, 3003} {
		c := h.dial()
		peerClose(t, c, code)
		h.next()
	}
	want := map[string]string{
		`wsmw_closes_total{cause="client_left",code="4001",initiator="peer"}`: "1",
		`wsmw_closes_total{cause="client_left",code="4xxx",initiator="peer"}`: "1",
		`wsmw_closes_total{cause="client_left",code="3xxx",initiator="peer"}`: "1",
	}
	if got := family(h.scrape(), "wsmw_closes_total"); !maps.Equal(got, want) {
		t.Fatalf("closes:\n got %v\nwant %v", got, want)
	}
}

// TestNonUpgradePassesThrough checks that plain requests are not counted.
func TestNonUpgradePassesThrough(t *testing.T) {
	h := newHarness(t, nil)
	resp, err := http.Get(h.http + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("status %d, want 426", resp.StatusCode)
	}
	if got := h.scrape(); got[`wsmw_rejections_total{status="426"}`] != "" {
		t.Fatalf("a plain GET counted as a rejection: %v", family(got, "wsmw_rejections_total"))
	}
}

// TestRegisterTwice checks that New reports a clash and registers nothing.
func TestRegisterTwice(t *testing.T) {
	prom := prometheus.NewRegistry()
	if _, err := metrics.New(prom); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(prom); err == nil {
		t.Fatal("second New on one registry succeeded")
	}
	if _, err := metrics.New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
}
