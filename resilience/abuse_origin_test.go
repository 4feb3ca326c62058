package resilience_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// TestCrossSiteHijackingRefused is cross-site WebSocket hijacking: a page
// on another site opens a WebSocket to the victim's server, and the
// browser attaches the victim's session cookie. With cookie auth, the
// token is valid, so only the Origin check stands in the way: it must
// answer 403 before any upgrade, by default (same host only) and with an
// allow-list.
func TestCrossSiteHijackingRefused(t *testing.T) {
	t.Parallel()
	reg := lifecycle.NewRegistry()
	t.Cleanup(func() { shutdown(reg, 5*time.Second) })
	cookieAuth := auth.JWT(auth.HMAC(chaosSecret), auth.WithSources(auth.FromCookie("session")), middleware.WithLogger(discardLog))
	echo := func(c *lifecycle.Conn, _ *http.Request) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}
	sameHost := wstest.Server(t, cookieAuth(middleware.Handler(reg, echo, middleware.WithLogger(discardLog))))
	allowList := wstest.Server(t, cookieAuth(middleware.Handler(reg, echo,
		middleware.WithOrigins("*.example.com"), middleware.WithLogger(discardLog))))

	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   "victim",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
	}).SignedString(chaosSecret)
	if err != nil {
		t.Fatal(err)
	}
	cookie := "session=" + tok
	hostOf := func(url string) string { return strings.TrimPrefix(url, "ws://") }

	cases := []struct {
		name, url, origin, cookie string
		want                      int
	}{
		{"foreign site", sameHost, "https://evil.example", cookie, 403},
		{"sandboxed iframe (null)", sameHost, "null", cookie, 403},
		{"same host, other port", sameHost, "http://127.0.0.1:1", cookie, 403},
		{"host as a subdomain of the attacker", sameHost, "http://" + hostOf(sameHost) + ".evil.example", cookie, 403},
		{"same origin", sameHost, "http://" + hostOf(sameHost), cookie, 101},
		{"no Origin (not a browser)", sameHost, "", cookie, 101},
		{"foreign site without the cookie", sameHost, "https://evil.example", "", 401},
		{"allow-list: suffix trick", allowList, "https://example.com.evil.example", cookie, 403},
		{"allow-list: lookalike", allowList, "https://evilexample.com", cookie, 403},
		{"allow-list: userinfo trick", allowList, "https://app.example.com@evil.example", cookie, 403},
		{"allow-list: listed subdomain", allowList, "https://app.example.com", cookie, 101},
	}
	for _, tc := range cases {
		header := http.Header{}
		if tc.origin != "" {
			header.Set("Origin", tc.origin)
		}
		if tc.cookie != "" {
			header.Set("Cookie", tc.cookie)
		}
		c, err := wstest.DialRaw(tc.url, header)
		got := 0
		switch {
		case err == nil:
			got = http.StatusSwitchingProtocols
			c.WriteClose(1000, "")
			c.WaitEOF(5 * time.Second)
			c.Close()
		case c != nil && c.Response != nil:
			got = c.Response.StatusCode
		default:
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: Origin %q: status %d, want %d", tc.name, tc.origin, got, tc.want)
		}
	}
}
