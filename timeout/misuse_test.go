package timeout_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/queue"
	"github.com/wsmw/wsmw/ratelimit"
	"github.com/wsmw/wsmw/timeout"
)

// A negative duration is meaningless for every timeout policy: each one
// panics at construction, naming itself and the value, and says that zero
// is the way to turn it off.
func TestNegativeDurationsPanic(t *testing.T) {
	for _, tc := range []struct {
		name  string
		make  func()
		wants []string
	}{
		{"SessionExpiry", func() { timeout.SessionExpiry(-time.Second) }, []string{"SessionExpiry(-1s)"}},
		{"IdleTimeout", func() { timeout.IdleTimeout(-time.Minute) }, []string{"IdleTimeout(-1m0s)"}},
		{"InitTimeout", func() { timeout.InitTimeout(-time.Millisecond) }, []string{"InitTimeout(-1ms)"}},
		{"WriteTimeout", func() { timeout.WriteTimeout(-10 * time.Second) }, []string{"WriteTimeout(-10s)"}},
		{"Heartbeat interval", func() { timeout.Heartbeat(-time.Second, 20*time.Second) }, []string{"Heartbeat(-1s)"}},
		{"Heartbeat pong timeout", func() { timeout.Heartbeat(20*time.Second, -time.Second) }, []string{"Heartbeat(-1s)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wstest.MustPanic(t, tc.make, append(tc.wants, "may not be negative", "zero turns the policy off")...)
		})
	}
}

// Heartbeat needs both an interval and a pong timeout, or neither: one
// zero is a mistake, not a way to turn half of it off.
func TestHeartbeatHalfZeroPanics(t *testing.T) {
	wstest.MustPanic(t, func() { timeout.Heartbeat(20*time.Second, 0) },
		"Heartbeat(20s, 0s)", "give both the interval and the pong timeout, or neither")
	wstest.MustPanic(t, func() { timeout.Heartbeat(0, 20*time.Second) },
		"Heartbeat(0s, 20s)", "give both the interval and the pong timeout, or neither")
}

// An option a policy does not take panics at construction, naming the
// option and the policy, even when the policy is turned off.
func TestMisplacedOptionsPanic(t *testing.T) {
	for _, tc := range []struct {
		make         func()
		option, into string
	}{
		{func() { timeout.SessionExpiry(time.Minute, timeout.WithCountOutbound()) }, "WithCountOutbound", "SessionExpiry"},
		{func() { timeout.InitTimeout(time.Minute, timeout.WithCountOutbound()) }, "WithCountOutbound", "InitTimeout"},
		{func() { timeout.Heartbeat(time.Second, time.Second, timeout.WithCountOutbound()) }, "WithCountOutbound", "Heartbeat"},
		{func() { timeout.SessionExpiry(0, timeout.WithCountOutbound()) }, "WithCountOutbound", "SessionExpiry"},
		{func() { timeout.Heartbeat(0, 0, queue.WithMaxMessages(8)) }, "WithMaxMessages", "Heartbeat"},
		{func() { timeout.IdleTimeout(time.Minute, ratelimit.WithStore(ratelimit.NewMemoryStore())) }, "WithStore", "IdleTimeout"},
		{func() { timeout.IdleTimeout(time.Minute, middleware.WithCompression()) }, "WithCompression", "IdleTimeout"},
		{func() { timeout.SessionExpiry(time.Minute, middleware.WithLogger(slog.Default())) }, "WithLogger", "SessionExpiry"},
	} {
		t.Run(tc.option+" in "+tc.into, func(t *testing.T) {
			wstest.MustPanic(t, tc.make, "wsmw: "+tc.option+" does not apply to "+tc.into)
		})
	}
	wstest.MustPanic(t, func() { timeout.SessionExpiry(time.Minute, nil) }, "nil option given to SessionExpiry")
}

// upgradeRequest returns a WebSocket upgrade request, as a client sends it.
func upgradeRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/ws", nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	return r
}

// passesUntouched reports whether policy hands an upgrade request to the
// next handler as it came: nothing attached, no copy made.
func passesUntouched(policy func(http.Handler) http.Handler) bool {
	in := upgradeRequest()
	var got *http.Request
	policy(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r })).ServeHTTP(httptest.NewRecorder(), in)
	return got == in
}

// Zero turns each timeout policy off: the upgrade request passes untouched,
// where a policy that is on attaches itself to it.
func TestZeroTurnsPoliciesOff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		off, on func(http.Handler) http.Handler
	}{
		{"SessionExpiry", timeout.SessionExpiry(0), timeout.SessionExpiry(time.Minute)},
		{"IdleTimeout", timeout.IdleTimeout(0, timeout.WithCountOutbound()), timeout.IdleTimeout(time.Minute)},
		{"InitTimeout", timeout.InitTimeout(0), timeout.InitTimeout(time.Minute)},
		{"WriteTimeout", timeout.WriteTimeout(0), timeout.WriteTimeout(time.Minute)},
		{"Heartbeat", timeout.Heartbeat(0, 0), timeout.Heartbeat(time.Second, time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !passesUntouched(tc.off) {
				t.Error("turned off, it still touched the request")
			}
			if passesUntouched(tc.on) {
				t.Error("turned on, it did not attach itself (the check proves nothing)")
			}
		})
	}
}

// A connection behind every timeout policy turned off lives through a day
// of silence: nothing pings it, nothing closes it.
func TestZeroPoliciesLeaveTheConnectionAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, conntest.Echo,
			timeout.SessionExpiry(0), timeout.IdleTimeout(0), timeout.InitTimeout(0),
			timeout.WriteTimeout(0), timeout.Heartbeat(0, 0))
		var pings atomic.Int64
		p.WS.SetPingHandler(func(string) error { pings.Add(1); return nil })
		p.Read()
		at(connx.OpenedAt(p.C), 24*time.Hour)
		if (p.C.Err() != nil) || pings.Load() != 0 {
			t.Fatalf("closing %v, %d pings", (p.C.Err() != nil), pings.Load())
		}
		if info := p.Finish(); info.Initiator != lifecycle.InitiatorAbnormal || info.Duration != 24*time.Hour {
			t.Fatalf("info = %+v", info)
		}
	})
}
