package middleware_test

import (
	"net/http"
	"testing"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

func TestMatchOrigin(t *testing.T) {
	patterns := []string{"*.example.com", "localhost:5173"}
	for _, tc := range []struct {
		origin, host string
		want         bool
	}{
		{"http://app.test", "app.test", true},
		{"https://APP.test", "app.test", true},
		{"http://app.test:8080", "app.test", false},
		{"https://a.example.com", "app.test", true},
		{"https://a.b.example.com", "app.test", true},
		{"https://example.com", "app.test", false},
		{"https://evilexample.com", "app.test", false},
		{"http://localhost:5173", "app.test", true},
		{"http://localhost:5174", "app.test", false},
		{"null", "app.test", false},
		{"file://", "app.test", false},
		{"chrome-extension://abc", "abc", false},
		{"::not a url", "app.test", false},
	} {
		if got := middleware.MatchOrigin(tc.origin, tc.host, patterns); got != tc.want {
			t.Errorf("MatchOrigin(%q, %q) = %v, want %v", tc.origin, tc.host, got, tc.want)
		}
	}
}

func TestOriginCheckBeforeUpgrade(t *testing.T) {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(t.Context())
	url := wstest.Server(t, middleware.Handler(reg, conntest.Serve(drainHandler), middleware.WithOrigins("*.trusted.test")))
	for _, tc := range []struct {
		origin string
		status int
	}{
		{"", http.StatusSwitchingProtocols},                      // not a browser
		{"http://" + hostOf(url), http.StatusSwitchingProtocols}, // same origin
		{"https://app.trusted.test", http.StatusSwitchingProtocols},
		{"https://evil.test", http.StatusForbidden},
		{"null", http.StatusForbidden},
	} {
		header := http.Header{}
		if tc.origin != "" {
			header.Set("Origin", tc.origin)
		}
		c, _ := wstest.DialRaw(url+"/", header)
		if c == nil || c.Response.StatusCode != tc.status {
			t.Fatalf("origin %q: got %v, want %d", tc.origin, c, tc.status)
		}
		c.Close()
	}
}
