package auth_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/middleware"
)

// FuzzExtract feeds arbitrary Authorization, Sec-WebSocket-Protocol,
// query and Cookie values through token extraction, validation and the
// whole policy. It must never panic, a token must come from where it was
// found, and a refusal must be a well-formed 401.
func FuzzExtract(f *testing.F) {
	tok := hs(f, "alice", time.Hour)
	f.Add("Bearer "+tok, "", "", "")
	f.Add("", "chat, bearer, "+tok, "", "")
	f.Add("", "", "access_token="+tok, "")
	f.Add("", "", "", "jwt="+tok)
	f.Add("Basic dXNlcjpwYXNz", "bearer", "access_token=&access_token=x", "jwt=")
	a, err := auth.New(auth.HMAC(secret), middleware.WithLogger(discardLogger()),
		auth.WithSources(auth.FromHeader(), auth.FromSubprotocol(), auth.FromQuery("access_token"), auth.FromCookie("jwt")))
	if err != nil {
		f.Fatal(err)
	}
	policy := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot) // stands in for the upgrade
	}))
	f.Fuzz(func(t *testing.T, authz, protocols, query, cookie string) {
		r := &http.Request{
			Method: http.MethodGet,
			URL:    &url.URL{Path: "/ws", RawQuery: query},
			Header: http.Header{
				"Connection":            {"Upgrade"},
				"Upgrade":               {"websocket"},
				"Sec-Websocket-Version": {"13"},
			},
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if protocols != "" {
			r.Header.Set("Sec-Websocket-Protocol", protocols)
		}
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		token, source, found := auth.Extract(r, auth.DefaultSources())
		switch {
		case !found && (token != "" || source != ""):
			t.Fatalf("not found but %q from %q", token, source)
		case source == "header" && !strings.Contains(authz, token):
			t.Fatalf("header token %q not in %q", token, authz)
		case source == "subprotocol" && !strings.Contains(protocols, token):
			t.Fatalf("subprotocol token %q not in %q", token, protocols)
		}
		if found {
			a.Validate(t.Context(), token)
		}
		w := httptest.NewRecorder()
		policy.ServeHTTP(w, r.WithContext(t.Context()))
		switch w.Code {
		case http.StatusTeapot:
		case http.StatusUnauthorized:
			ch := w.Header().Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, "Bearer") || strings.ContainsAny(ch, "\r\n") {
				t.Fatalf("challenge %q", ch)
			}
		default:
			t.Fatalf("status %d", w.Code)
		}
	})
}
