package middleware_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// decisions records what its observers are told, by observer.
type decisions struct {
	mu  sync.Mutex
	got []string
}

func (d *decisions) observer(name string) func(policy.Decision) {
	return func(dec policy.Decision) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.got = append(d.got, name+":"+dec.Name+":"+http.StatusText(dec.Status)+":"+dec.Reason)
	}
}

func (d *decisions) list() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.got...)
}

// TestDecisionsReachObservers: a refusal before the upgrade reaches every
// observer of the request, in order, though nothing is logged (the logger
// is above Debug); after the upgrade, a decision reported with the
// connection's context reaches the same observers.
func TestDecisionsReachObservers(t *testing.T) {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(t.Context())
	quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
	var d decisions
	reported := make(chan struct{})
	h := middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		policy.ReportDecision(c.Context(), policy.Decision{Name: "token_refreshed"})
		close(reported)
		drainHandler(c)
	}, middleware.WithLogger(quiet))
	observe := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = policy.OnDecision(r, d.observer("first"))
			r = policy.OnDecision(r, d.observer("second"))
			next.ServeHTTP(w, r)
		})
	}
	url := wstest.Server(t, observe(h))

	c, _ := wstest.DialRaw(url+"/", http.Header{"Origin": {"https://evil.test"}})
	if c == nil || c.Response.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v, want 403", c)
	}
	c.Close()
	want := []string{"first:upgrade_refused:Forbidden:origin not allowed", "second:upgrade_refused:Forbidden:origin not allowed"}
	if got := d.list(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("observers got %q, want %q", got, want)
	}

	c, err := wstest.DialRaw(url+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-reported:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not run")
	}
	want = append(want, "first:token_refreshed::", "second:token_refreshed::")
	if got := d.list(); len(got) != 4 || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("observers got %q, want %q", got, want)
	}
}

// TestReportDecisionWithoutObservers does nothing, and allocates nothing.
func TestReportDecisionWithoutObservers(t *testing.T) {
	ctx := context.Background()
	d := policy.Decision{Name: "x", Status: http.StatusTooManyRequests, Reason: "y"}
	if n := testing.AllocsPerRun(100, func() { policy.ReportDecision(ctx, d) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
