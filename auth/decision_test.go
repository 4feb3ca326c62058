package auth_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// Refreshes and in-band authentications, and their refusals, are reported
// to the request's decision observers (the otel module turns them into span
// events), with a reason that says why and never holds the token.
func TestAuthDecisionsReported(t *testing.T) {
	var mu sync.Mutex
	var got []string
	observe := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, policy.OnDecision(r, func(d policy.Decision) {
				mu.Lock()
				got = append(got, d.Name+":"+d.Reason)
				mu.Unlock()
			}))
		})
	}
	a, err := auth.New(auth.HMAC(secret), auth.WithTokenOptional())
	if err != nil {
		t.Fatal(err)
	}
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(t.Context())
	bad := "not-a-token"
	handler := middleware.Handler(reg, conntest.Serve(func(c *lifecycle.Conn) {
		for _, tok := range []string{bad, hs(t, "alice", time.Minute), bad, hs(t, "alice", time.Hour)} {
			a.Authenticate(c, tok) // the first binds, the others refresh
		}
		c.WriteMessage(lifecycle.TextMessage, []byte("done"))
		conntest.Echo(c)
	}))
	c, err := wstest.DialRaw(wstest.Server(t, observe(a.Middleware(handler))), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "done" {
		t.Fatalf("read: %v %q", err, f.Payload)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"token_authenticated_refused", "token_authenticated", "token_refreshed_refused", "token_refreshed"}
	if len(got) != len(want) {
		t.Fatalf("decisions %q, want %q", got, want)
	}
	for i, g := range got {
		name, reason, _ := strings.Cut(g, ":")
		refused := strings.HasSuffix(name, "_refused")
		if name != want[i] || refused == (reason == "") || strings.Contains(reason, bad) {
			t.Errorf("decision %d: %q, want %s with a reason only when refused, never the token", i, g, want[i])
		}
	}
}
