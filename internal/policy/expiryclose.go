package policy

import (
	"fmt"
	"sync/atomic"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

// expiryCloseKey keeps a connection's own expiry close among its values.
type expiryCloseKey struct{}

type expiryClose struct {
	code   lifecycle.StatusCode
	reason string
}

// SetExpiryClose makes c close with code and reason when its token
// expires, instead of the auth policy's close (1008 "token expired", or
// what middleware.WithClose chose); the cause is still
// auth.ErrTokenExpired. It is for a protocol adapter whose clients need
// another code on some connections: the gqlws adapter's
// WithReconnectOnTokenExpiry uses it. It may be called before c has a
// session (one bound later by Authenticate follows it too); a later call
// replaces the close. A code that may not be sent panics.
func SetExpiryClose(c *lifecycle.Conn, code lifecycle.StatusCode, reason string) {
	if !code.Sendable() {
		panic(fmt.Sprintf("wsmw: SetExpiryClose(%d, …): %v may not be sent in a Close frame", int(code), code))
	}
	v, _ := c.LoadOrStore(expiryCloseKey{}, new(atomic.Pointer[expiryClose]))
	v.(*atomic.Pointer[expiryClose]).Store(&expiryClose{code, connx.TruncateReason(reason)})
}

// ExpiryClose returns the close that [SetExpiryClose] set on c, and false
// when none was set.
func ExpiryClose(c *lifecycle.Conn) (lifecycle.StatusCode, string, bool) {
	if p, ok := c.Value(expiryCloseKey{}).(*atomic.Pointer[expiryClose]); ok {
		if ec := p.Load(); ec != nil {
			return ec.code, ec.reason, true
		}
	}
	return 0, "", false
}
