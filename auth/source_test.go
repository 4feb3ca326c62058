package auth_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/middleware"
)

func TestEachSourceUpgrades(t *testing.T) {
	t.Parallel()
	s := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()),
		auth.WithSources(auth.FromHeader(), auth.FromSubprotocol(), auth.FromQuery("access_token"), auth.FromCookie("jwt")))
	tok := hs(t, "alice", time.Minute)
	cases := map[string]struct {
		header http.Header
		query  string
	}{
		"header":              {header: bearer(tok)},
		"header lower case":   {header: http.Header{"Authorization": {"bearer  " + tok}}},
		"subprotocol":         {header: http.Header{"Sec-WebSocket-Protocol": {"bearer, " + tok}}},
		"query":               {query: "access_token=" + tok},
		"cookie":              {header: http.Header{"Cookie": {"jwt=" + tok}}},
		"header among others": {header: http.Header{"Authorization": {"Bearer " + tok}, "Cookie": {"x=1"}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := s.dial(tc.header, tc.query)
			if got := c.Response.Header.Get("Sec-WebSocket-Protocol"); got == tok {
				t.Fatal("the token was echoed as the subprotocol")
			}
			reply := roundTrip(t, c, command{Type: "claims"})
			if reply.Sub != "alice" || reply.CtxSub != "alice" {
				t.Fatalf("claims from Conn %q, from context %q; want alice", reply.Sub, reply.CtxSub)
			}
		})
	}
}

func TestSubprotocolNeverEchoesToken(t *testing.T) {
	t.Parallel()
	tok := hs(t, "alice", time.Minute)

	s := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()))
	c := s.dial(http.Header{"Sec-WebSocket-Protocol": {"bearer, " + tok}}, "")
	if got := c.Response.Header.Get("Sec-WebSocket-Protocol"); got != "bearer" {
		t.Fatalf("selected subprotocol %q, want bearer", got)
	}

	// With the application's own subprotocol offered, that one wins.
	app := newServerWith(t, auth.HMAC(secret), []middleware.Option{middleware.WithSubprotocols("chat")}, middleware.WithLogger(discardLogger()))
	c = app.dial(http.Header{"Sec-WebSocket-Protocol": {"chat, bearer, " + tok}}, "")
	if got := c.Response.Header.Get("Sec-WebSocket-Protocol"); got != "chat" {
		t.Fatalf("selected subprotocol %q, want chat", got)
	}

	// A token sent in the header while "bearer" is offered: still "bearer".
	h := bearer(tok)
	h.Set("Sec-WebSocket-Protocol", "bearer")
	c = s.dial(h, "")
	if got := c.Response.Header.Get("Sec-WebSocket-Protocol"); got != "bearer" {
		t.Fatalf("selected subprotocol %q, want bearer", got)
	}
}

func TestSourceOrder(t *testing.T) {
	t.Parallel()
	good := hs(t, "alice", time.Minute)
	bad := hs(t, "alice", -time.Minute)

	// Default order: the header comes first, so its bad token decides.
	s := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()))
	if c, err := wstest.DialRaw(s.url+"?access_token="+good, bearer(bad)); err == nil || c.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("header first: err %v, want 401", err)
	}
	// Query first.
	q := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()), auth.WithSources(auth.FromQuery("access_token"), auth.FromHeader()))
	q.dial(bearer(bad), "access_token="+good)
	// A source that is not listed is ignored.
	h := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()), auth.WithSources(auth.FromHeader()))
	if c, err := wstest.DialRaw(h.url+"?access_token="+good, nil); err == nil || c.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("query not listed: err %v, want 401", err)
	}
}

func TestExtract(t *testing.T) {
	t.Parallel()
	r, _ := http.NewRequest("GET", "http://x/ws?access_token=q", nil)
	r.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
	r.Header.Set("Sec-WebSocket-Protocol", "chat, bearer, p")
	tok, src, ok := auth.Extract(r, auth.DefaultSources())
	if !ok || tok != "p" || src != "subprotocol" {
		t.Fatalf("Extract = %q %q %v; want p subprotocol true (Basic is not a token)", tok, src, ok)
	}
	r.Header.Set("Authorization", "Bearerx y")
	r.Header.Del("Sec-WebSocket-Protocol")
	if tok, src, _ = auth.Extract(r, auth.DefaultSources()); tok != "q" || src != "query" {
		t.Fatalf("Extract = %q %q; want q query", tok, src)
	}
	r.Header.Set("Authorization", "Bearer")
	if tok, src, ok = auth.Extract(r, auth.DefaultSources()); !ok || tok != "" || src != "header" {
		t.Fatalf("Extract = %q %q %v; want an empty token from the header", tok, src, ok)
	}
}
