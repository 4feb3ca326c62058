package wstest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// Server starts h on 127.0.0.1 and returns its ws:// base URL; the server
// is closed when the test ends.
func Server(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// RequireIntegration reports whether a missing external component (redis,
// chromium, python websockets, node ws) must fail the test instead of
// skipping it: WSMW_REQUIRE_INTEGRATION=1, as .ci/run sets.
func RequireIntegration() bool { return os.Getenv("WSMW_REQUIRE_INTEGRATION") == "1" }

// Missing skips t because component is not installed, or fails it when
// integration is required.
func Missing(t testing.TB, component, why string) {
	t.Helper()
	if RequireIntegration() {
		t.Fatalf("%s is required (WSMW_REQUIRE_INTEGRATION=1) but unavailable: %s", component, why)
	}
	t.Skipf("%s unavailable (%s); set it up or see .ci/run", component, why)
}
