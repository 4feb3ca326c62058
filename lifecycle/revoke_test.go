package lifecycle_test

import (
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

// Revoke counts the subject's connections that end revoked: one that an
// auth policy was already closing for the same revocation counts (it saw
// the remembered revocation first), one closing for another reason does
// not, and a live one is closed.
func TestRevokeCountsConnectionsClosingForARevocation(t *testing.T) {
	conns := make(chan *lifecycle.Conn, 3)
	h := newHarness(t, connx.Config{Subject: "alice", CloseTimeout: 200 * time.Millisecond}, func(c *lifecycle.Conn) {
		conns <- c
		c.ReadMessage()
	})
	var cs []*lifecycle.Conn
	for range 3 {
		h.dial()
		cs = append(cs, <-conns)
	}
	connx.CloseAsync(cs[0], lifecycle.ErrSessionRevoked, lifecycle.StatusPolicyViolation, "session revoked")
	connx.CloseAsync(cs[1], errTestCause, 4000, "something else")
	if n := h.reg.Revoke("alice"); n != 2 {
		t.Fatalf("Revoke counted %d connections, want 2 (the one closing for a revocation, and the live one)", n)
	}
	for range 3 {
		h.next()
	}
}
