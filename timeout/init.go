package timeout

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// InitTimeout requires the first data message within d of the upgrade;
// otherwise the connection closes with 4408 "connection initialisation
// timeout" (cause ErrInitTimeout), the code graphql-transport-ws uses for a
// client that never sent connection_init. It guards against clients that
// open a socket and sit on it without ever speaking. Pings and pongs do not
// count. d <= 0 turns it off.
func InitTimeout(d time.Duration, opts ...Option) func(http.Handler) http.Handler {
	if d <= 0 {
		return passThrough
	}
	o := newOptions(StatusInitTimeout, ReasonInitTimeout, opts)
	return middleware.Policy(func(c *lifecycle.Conn) error {
		var seen atomic.Bool
		t := c.AfterFunc(d-time.Since(c.OpenedAt()), func() {
			if !seen.Load() {
				c.CloseWith(ErrInitTimeout, o.code, o.reason)
			}
		})
		c.AddReadCheck(func(lifecycle.MessageType, []byte) error {
			if !seen.Load() && seen.CompareAndSwap(false, true) {
				t.Stop()
			}
			return nil
		})
		return nil
	})
}
