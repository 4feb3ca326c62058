package middleware_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// checkPolicy adds an UpgradeCheck named name that records its call in
// calls and lets the upgrade go on when pass is true, answering 401
// otherwise.
func checkPolicy(name string, pass bool, calls *[]string, regs *[]*lifecycle.Registry) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = policy.BeforeUpgrade(r, func(w http.ResponseWriter, _ *http.Request, reg *lifecycle.Registry) bool {
				*calls = append(*calls, name)
				*regs = append(*regs, reg)
				if !pass {
					http.Error(w, "refused by "+name, http.StatusUnauthorized)
				}
				return pass
			})
			next.ServeHTTP(w, r)
		})
	}
}

// TestBeforeUpgrade: the checks run in the order added, with the
// Upgrader's Registry, after its own refusals (an Origin it refuses never
// reaches them) and before the handshake; the first that refuses answers
// the request, the later ones do not run, and no connection is made.
func TestBeforeUpgrade(t *testing.T) {
	t.Parallel()
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(t.Context())
	up := middleware.NewUpgrader(reg)
	for _, tc := range []struct {
		name      string
		passes    []bool
		origin    string
		wantCalls int
		wantCode  int
	}{
		{"all pass", []bool{true, true}, "", 2, http.StatusSwitchingProtocols},
		{"first refuses", []bool{false, true}, "", 1, http.StatusUnauthorized},
		{"second refuses", []bool{true, false}, "", 2, http.StatusUnauthorized},
		{"foreign origin", []bool{true, true}, "http://evil.example", 0, http.StatusForbidden},
	} {
		var calls []string
		var regs []*lifecycle.Registry
		type result struct {
			upgraded bool
			err      error
		}
		done := make(chan result, 1)
		h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r)
			if c != nil {
				c.Close(lifecycle.StatusNormalClosure, "")
			}
			done <- result{c != nil, err}
		}))
		for i := len(tc.passes) - 1; i >= 0; i-- {
			h = checkPolicy(string(rune('a'+i)), tc.passes[i], &calls, &regs)(h)
		}
		url := wstest.Server(t, h)
		header := http.Header{}
		if tc.origin != "" {
			header.Set("Origin", tc.origin)
		}
		c, err := wstest.DialRaw(url, header)
		code := 0
		if c != nil && c.Response != nil {
			code = c.Response.StatusCode
		}
		if c != nil {
			c.Close()
		}
		res := <-done // the checks have run
		if code != tc.wantCode {
			t.Errorf("%s: status %d (%v), want %d", tc.name, code, err, tc.wantCode)
		}
		if len(calls) != tc.wantCalls {
			t.Errorf("%s: checks called %v, want the first %d", tc.name, calls, tc.wantCalls)
		}
		for i, name := range calls {
			if name != string(rune('a'+i)) || regs[i] != reg {
				t.Errorf("%s: check %d was %q with Registry %p, want %q with %p", tc.name, i, name, regs[i], string(rune('a'+i)), reg)
			}
		}
		if tc.wantCode == http.StatusUnauthorized && (res.upgraded || !errors.Is(res.err, middleware.ErrRefused)) {
			t.Errorf("%s: Upgrade returned a Conn: %v, error %v; want none and ErrRefused", tc.name, res.upgraded, res.err)
		}
	}
	if n := reg.Len(); n != 0 {
		t.Errorf("%d connections left in the Registry", n)
	}
}

// TestBeforeUpgradeNotUpgrade: a request that is not an upgrade never
// reaches the checks (426 from Upgrade).
func TestBeforeUpgradeNotUpgrade(t *testing.T) {
	t.Parallel()
	var calls []string
	var regs []*lifecycle.Registry
	reg := lifecycle.NewRegistry()
	up := middleware.NewUpgrader(reg)
	h := checkPolicy("a", true, &calls, &regs)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.Upgrade(w, r)
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusUpgradeRequired || len(calls) != 0 {
		t.Fatalf("status %d, checks %v; want 426 and none", w.Code, calls)
	}
}
