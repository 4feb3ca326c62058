package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

type ctxKey struct{}
type parentKey struct{}

// The connection's context answers with the Conn's values (a policy keeps
// its state in one place), the values of config.Context, and the Conn
// itself (connx.ConnOf), also through contexts derived from it.
func TestContextCarriesTheConnsValues(t *testing.T) {
	checked := make(chan string, 1)
	parent := context.WithValue(context.Background(), parentKey{}, "from the upgrade")
	h := newHarness(t, connx.Config{Context: parent}, func(c *lifecycle.Conn) {
		c.LoadOrStore(ctxKey{}, "state")
		ctx, cancel := context.WithTimeout(c.Context(), time.Minute)
		defer cancel()
		switch {
		case ctx.Value(ctxKey{}) != "state":
			checked <- "the Conn's value is missing"
		case ctx.Value(parentKey{}) != "from the upgrade":
			checked <- "config.Context's value is missing"
		case connx.ConnOf(ctx) != c:
			checked <- "ConnOf does not find the Conn"
		case connx.ConnOf(parent) != nil:
			checked <- "ConnOf finds a Conn in another context"
		default:
			checked <- ""
		}
	})
	c := h.dial()
	if msg := <-checked; msg != "" {
		t.Fatal(msg)
	}
	c.ReadUntilClose(5 * time.Second)
	c.WriteClose(1000, "")
	h.next()
}
