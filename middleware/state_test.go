package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

type testKey struct{}

// TestPoliciesShareOneRequestState checks that a chain of policies copies
// the request once, not once per policy, and that the values, subject and
// attachments they leave reach the connection and its context.
func TestPoliciesShareOneRequestState(t *testing.T) {
	var afterFirst, atHandler *http.Request
	probe := func(save **http.Request) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				*save = r
				next.ServeHTTP(w, r)
			})
		}
	}
	withValue := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = middleware.WithValue(r, testKey{}, "v1")
			r = middleware.WithValue(r, testKey{}, "v2") // replaces
			next.ServeHTTP(w, policy.WithSubject(r, "alice"))
		})
	}
	attached := 0
	count := middleware.Policy(func(*lifecycle.Conn) error { attached++; return nil })

	type seen struct {
		value   any
		subject string
		connSub string
	}
	got := make(chan seen, 1)
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(t.Context())
	h := middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		got <- seen{c.Context().Value(testKey{}), policy.SubjectFromContext(c.Context()), c.Subject()}
		drainHandler(c)
	})
	chain := count(probe(&afterFirst)(count(withValue(count(probe(&atHandler)(h))))))
	url := wstest.Server(t, chain)
	c, err := wstest.DialRaw(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-got
	if afterFirst == nil || atHandler != afterFirst {
		t.Errorf("the request was copied after the first policy")
	}
	if s.value != "v2" || s.subject != "alice" || s.connSub != "alice" {
		t.Errorf("connection sees value %v, subject %q (Conn.Subject %q)", s.value, s.subject, s.connSub)
	}
	if attached != 3 {
		t.Errorf("%d attachments ran, want 3", attached)
	}
	if v := afterFirst.Context().Value(testKey{}); v != "v2" {
		t.Errorf("the state is shared with the request the first policy passed on: got %v", v)
	}
	if err := c.WriteClose(1000, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadUntilClose(5 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// WithSubjectPending marks a request whose subject comes after the upgrade;
// a subject set before the upgrade clears the mark, and a request without
// state has none.
func TestSubjectPending(t *testing.T) {
	r := httptest.NewRequest("GET", "/ws", nil)
	if policy.SubjectPending(r.Context()) {
		t.Fatal("a bare request is pending")
	}
	r = policy.WithSubjectPending(r)
	if !policy.SubjectPending(r.Context()) || policy.SubjectFromContext(r.Context()) != "" {
		t.Fatal("WithSubjectPending did not mark the request")
	}
	r = policy.WithSubject(r, "alice")
	if policy.SubjectPending(r.Context()) {
		t.Fatal("a request with a subject is still pending")
	}
}
