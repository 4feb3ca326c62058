package timeout_test

import (
	"net/http"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/queue"
)

// The timeout package's tests use conntest's in-memory peers (for synctest
// bubbles) and real TCP servers.

func discard(c *lifecycle.Conn) { queue.DiscardMessages(c) }

// policyFunc is a policy that runs fn on each connection.
func policyFunc(fn func(*lifecycle.Conn)) func(http.Handler) http.Handler {
	return middleware.Policy(func(c *lifecycle.Conn) error { fn(c); return nil })
}
