package conformance

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestHTTP checks, in each read mode, the example's plain HTTP endpoints with net/http: the
// health check, the demo page and its script (with a Content-Security-Policy
// that allows only this origin), and 426 for /ws without an upgrade.
func TestHTTP(t *testing.T) {
	t.Parallel()
	for _, ex := range startExamples(t, "http") {
		t.Run(ex.mode, func(t *testing.T) { checkHTTP(t, ex) })
	}
}

func checkHTTP(t *testing.T, ex *example) {
	get := func(t *testing.T, path string) (*http.Response, string) {
		t.Helper()
		res, err := http.Get(ex.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		return res, string(body)
	}
	t.Run("healthz", func(t *testing.T) {
		if res, body := get(t, "/healthz"); res.StatusCode != 200 || !strings.Contains(body, "ok") {
			t.Errorf("GET /healthz: %s %q", res.Status, body)
		}
	})
	t.Run("page", func(t *testing.T) {
		res, body := get(t, "/")
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET /: %s %s", res.Status, res.Header.Get("Content-Type"))
		}
		for _, want := range []string{`id="connect"`, `id="log"`, `id="refresh"`, `id="query"`, `src="/app.js"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "connect-src 'self'") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("Content-Security-Policy = %q", csp)
		}
		res, body = get(t, "/app.js")
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "javascript") ||
			!strings.Contains(body, "wasClean=") {
			t.Errorf("GET /app.js: %s %s", res.Status, res.Header.Get("Content-Type"))
		}
	})
	t.Run("ws without upgrade", func(t *testing.T) {
		if res, _ := get(t, "/ws"); res.StatusCode != http.StatusUpgradeRequired && res.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /ws without an upgrade: %s, want 426 (or 401 when auth answers first)", res.Status)
		}
	})
	ex.finish(t)
}
