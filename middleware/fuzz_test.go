package middleware_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// originSeeds are Origin values a browser sends, and some it never would.
var originSeeds = []string{
	"http://example.com", "https://app.example.com", "https://EXAMPLE.com:8443",
	"http://localhost:5173", "null", "", "file://", "ws://example.com",
	"https://example.com.evil.test", "https://evilexample.com", "https://a.example.com@evil.test",
	"https://evil.test#.example.com", "https://evil.test/.example.com", "http://[::1]:8080",
	"https://xn--bcher-kva.example.com", "http://example.com:", "http://%65xample.com",
	"javascript://example.com", "http://exa mple.com", "http://example.com\x00.evil",
}

// FuzzMatchOrigin checks the Origin rule that defends against cross-site
// WebSocket hijacking: the same host always passes, a pattern can only add
// hosts that it matches, "null" and non-HTTP origins never pass, and a
// wildcard pattern never lets through a host outside its domain.
//
//	go test -run '^$' -fuzz=FuzzMatchOrigin -fuzztime=60s ./middleware
func FuzzMatchOrigin(f *testing.F) {
	for _, o := range originSeeds {
		f.Add(o, "example.com", "*.example.com")
		f.Add(o, "example.com:8443", "localhost:5173")
	}
	f.Add("https://a.b.example.com", "x", "*.example.com")
	f.Add("http://LOCALHOST:5173", "x", "localhost:5173")
	f.Add("http://host", "x", "[")
	f.Fuzz(func(t *testing.T, origin, host, pattern string) {
		pattern = strings.ToLower(pattern)
		same := middleware.MatchOrigin(origin, host, nil)
		withPattern := middleware.MatchOrigin(origin, host, []string{pattern})
		u, err := url.Parse(origin)
		parsed := err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https")

		if same && (!parsed || !strings.EqualFold(u.Host, host)) {
			t.Fatalf("same-origin match of %q for host %q", origin, host)
		}
		if same && !withPattern {
			t.Fatalf("adding pattern %q refused same-origin %q", pattern, origin)
		}
		if withPattern && !same {
			if !parsed {
				t.Fatalf("%q matched %q but is no http(s) origin", origin, pattern)
			}
			if ok, _ := path.Match(pattern, strings.ToLower(u.Host)); !ok {
				t.Fatalf("%q matched, but its host %q does not match %q", origin, u.Host, pattern)
			}
		}
		if origin == "null" && withPattern {
			t.Fatalf(`"null" matched host %q, pattern %q`, host, pattern)
		}

		// Two patterns of the example's kind: a subdomain wildcard and an
		// exact host with port. Neither may let in another host.
		if middleware.MatchOrigin(origin, "app.test", []string{"*.example.com"}) {
			h := strings.ToLower(u.Host)
			if !strings.HasSuffix(h, ".example.com") || strings.ContainsAny(h, "/@#?") {
				t.Fatalf("*.example.com let in %q (host %q)", origin, u.Host)
			}
		}
		if middleware.MatchOrigin(origin, "app.test", []string{"localhost:5173"}) && !strings.EqualFold(u.Host, "localhost:5173") {
			t.Fatalf("localhost:5173 let in %q (host %q)", origin, u.Host)
		}
	})
}

// FuzzUpgradeOrigin sends an upgrade request with any Origin, Host and
// allowed pattern through the Upgrader and checks that it answers 403
// exactly when MatchOrigin refuses a browser's Origin, and that a request
// without Origin (a client that is not a browser) passes.
//
//	go test -run '^$' -fuzz=FuzzUpgradeOrigin -fuzztime=60s ./middleware
func FuzzUpgradeOrigin(f *testing.F) {
	for _, o := range originSeeds {
		f.Add(o, "example.com", "*.example.com")
	}
	f.Add("https://Example.com", "EXAMPLE.COM", " *.Example.COM ")
	f.Add("https://x.test", "example.com", "[")
	quiet := slog.New(slog.DiscardHandler)
	fn := func(*lifecycle.Conn, *http.Request) {}
	f.Fuzz(func(t *testing.T, origin, host, pattern string) {
		if strings.ContainsAny(origin, "\r\n\x00") {
			return // not a header value net/http would deliver
		}
		p := strings.ToLower(strings.TrimSpace(pattern))
		_, badErr := path.Match(p, "")
		bad := badErr != nil || p == "" || strings.Contains(p, "://")
		origins, panicked := withOrigins(pattern)
		if panicked != bad {
			t.Fatalf("pattern %q: WithOrigins panicked %v, want %v (a bad pattern fails loudly)", pattern, panicked, bad)
		}
		if bad {
			return
		}
		h := middleware.Handler(lifecycle.NewRegistry(), fn, origins, middleware.WithLogger(quiet))
		r := httptest.NewRequest(http.MethodGet, "/ws", nil)
		r.Host = host
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Version", "13")
		r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		allowed := origin == "" || middleware.MatchOrigin(origin, host, []string{p})
		if refused := w.Code == http.StatusForbidden; refused == allowed {
			t.Fatalf("Origin %q, Host %q, pattern %q: status %d, MatchOrigin allows: %v", origin, host, pattern, w.Code, allowed)
		}
	})
}

// withOrigins is middleware.WithOrigins, reporting a panic instead of
// panicking.
func withOrigins(pattern string) (o middleware.Option, panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	return middleware.WithOrigins(pattern), false
}
