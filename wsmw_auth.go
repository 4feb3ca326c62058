package wsmw

import (
	"net/http"

	"github.com/wsmw/wsmw/auth"
)

// JWT is the auth policy (see package auth): no upgrade without a valid
// token (HTTP 401 with WWW-Authenticate), the connection closes with 1008
// "token expired" at the token's exp, Refresh moves that end, and the
// token's subject is registered so that Registry.Revoke(subject) closes
// that subject's connections.
//
//	r.Use(wsmw.JWT(auth.HMAC(secret)))
func JWT(key auth.Key, opts ...auth.Option) func(http.Handler) http.Handler {
	return auth.JWT(key, opts...)
}

// RefreshToken replaces c's token without reconnecting: same rules, same
// subject, and the session's end moves to the new token's exp.
func RefreshToken(c *Conn, token string) error { return auth.Refresh(c, token) }

// ErrTokenExpired is the cause of 1008 "token expired".
var ErrTokenExpired = auth.ErrTokenExpired
