package auth

import (
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
)

// expiryCloseOf returns the close of c when its token expires: the one a
// protocol adapter chose for c ([policy.SetExpiryClose]; the gqlws
// adapter's WithReconnectOnTokenExpiry), else the Authenticator's.
func (a *Authenticator) expiryCloseOf(c *lifecycle.Conn) (lifecycle.StatusCode, string) {
	if code, reason, ok := policy.ExpiryClose(c); ok {
		return code, reason
	}
	return a.cfg.expiryCode, a.cfg.expiryReason
}
