package wsmw_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/ratelimit"
)

// Misuse that the old API took silently fails loudly at construction.
func TestMisuseFailsLoudly(t *testing.T) {
	reg := wsmw.NewRegistry()
	echo := func(*wsmw.Conn, *http.Request) {}
	for _, tc := range []struct {
		name, want string
		f          func()
	}{
		{"nil handler", "nil handler", func() { wsmw.Handler(reg, nil) }},
		{"nil Registry", "nil Registry", func() { wsmw.Handler(nil, echo) }},
		{"burst 0 with a rate", "burst of at least 1", func() { wsmw.MessageRate(5, 0) }},
		{"negative rate", "MessageRate", func() { wsmw.MessageRate(-1, 5) }},
		{"negative session expiry", "may not be negative", func() { wsmw.SessionExpiry(-time.Second) }},
		{"negative idle timeout", "may not be negative", func() { wsmw.IdleTimeout(-time.Second) }},
		{"half a heartbeat", "or neither", func() { wsmw.Heartbeat(20*time.Second, 0) }},
		{"negative cap", "may not be negative", func() { wsmw.MaxConns(-1) }},
		{"connect rate without a window", "both must be positive", func() { wsmw.ConnectRate(10, 0) }},
		{"zero message size", "must be positive", func() { wsmw.MaxMessageSize(0) }},
		{"a URL as origin pattern", "not URLs", func() { wsmw.WithOrigins("https://app.example.com") }},
		{"a bad origin pattern", "bad pattern", func() { wsmw.WithOrigins("[") }},
		{"an unsendable close code", "may not be sent", func() { wsmw.WithClose(1006, "") }},
		{"a store for a message rate", "WithStore does not apply to MessageRate",
			func() { wsmw.MessageRate(1, 1, wsmw.WithStore(ratelimit.NewMemoryStore())) }},
		{"a key for the session expiry", "WithKey does not apply to SessionExpiry",
			func() { wsmw.SessionExpiry(time.Minute, wsmw.WithKey(wsmw.KeyByIP)) }},
		{"a close for the handler", "WithClose does not apply to Handler",
			func() { wsmw.Handler(reg, echo, wsmw.WithClose(4000, "x")) }},
		{"a JWT option for the upgrader", "WithIssuer does not apply to Handler",
			func() { wsmw.Handler(reg, echo, wsmw.WithIssuer("me")) }},
		{"JWT with an empty secret", "JWT", func() { wsmw.JWT(wsmw.HMAC(nil)) }},
	} {
		t.Run(tc.name, func(t *testing.T) { wstest.MustPanic(t, tc.f, "wsmw: ", tc.want) })
	}
}

// Zero turns a policy off: the request passes untouched.
func TestZeroTurnsPoliciesOff(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for name, mw := range map[string]func(http.Handler) http.Handler{
		"SessionExpiry": wsmw.SessionExpiry(0), "IdleTimeout": wsmw.IdleTimeout(0),
		"Heartbeat": wsmw.Heartbeat(0, 0), "InitTimeout": wsmw.InitTimeout(0), "WriteTimeout": wsmw.WriteTimeout(0),
		"ConnectRate": wsmw.ConnectRate(0, 0), "MaxConns": wsmw.MaxConns(0), "MaxTotalConns": wsmw.MaxTotalConns(0),
		"MessageRate": wsmw.MessageRate(0, 0),
	} {
		if got := mw(next); fmt.Sprintf("%p", got) != fmt.Sprintf("%p", next) {
			t.Errorf("%s(0) is not a pass-through", name)
		}
	}
}

// A foreign Origin is refused with 403 and logged at Debug level with the
// Origin and the patterns, so that a mistyped pattern can be found.
func TestRefusedOriginIsLogged(t *testing.T) {
	var logs wstest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := wsmw.NewRegistry()
	h := wsmw.Handler(reg, func(*wsmw.Conn, *http.Request) {}, wsmw.WithOrigins("app.example.com"), wsmw.WithLogger(logger))
	c, err := wstest.DialRaw(wstest.Server(t, h), http.Header{"Origin": {"https://app.example.org"}})
	if err == nil || c.Response.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v", err)
	}
	line := logs.String()
	for _, want := range []string{"level=DEBUG", "ws upgrade refused", "status=403", "origin=https://app.example.org", "app.example.com"} {
		if !strings.Contains(line, want) {
			t.Fatalf("log %q lacks %q", line, want)
		}
	}
}

// A per-user cap placed before the auth policy finds no subject: it
// refuses (403) instead of silently counting by IP, and warns once.
func TestSubjectCapBeforeAuthRefusesAndWarnsOnce(t *testing.T) {
	var logs wstest.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	reg := wsmw.NewRegistry()
	h := wsmw.MaxConns(3, wsmw.WithKey(wsmw.KeyBySubject), wsmw.WithLogger(logger))(
		wsmw.Handler(reg, func(*wsmw.Conn, *http.Request) {}))
	url := wstest.Server(t, h)
	for range 5 {
		c, err := wstest.DialRaw(url, nil)
		if err == nil || c.Response.StatusCode != http.StatusForbidden {
			t.Fatalf("upgrade without a subject: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Fatalf("%d warnings for 5 refusals, want 1:\n%s", n, logs.String())
	}
}
