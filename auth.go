package wsmw

import (
	"context"
	"crypto"
	"net/http"
	"time"

	"github.com/wsmw/wsmw/auth"
)

// JWT is the auth policy ([auth.JWT]): no upgrade without a valid token
// (401 with an RFC 6750 WWW-Authenticate challenge), algorithms
// allow-listed by the key, exp and sub required; the connection closes with
// 1008 "token expired" at the token's exp (cause [auth.ErrTokenExpired];
// [WithClose] changes the close), [Refresh] moves that end, and the token's
// subject is registered so that [lifecycle.Registry.Revoke] closes that
// subject's connections. Revocations hold with no option: the subject's
// tokens issued before Revoke get 401 "token revoked" from the endpoint
// whose Registry revoked it (see [auth.Authenticator.Middleware];
// [auth.WithoutRevocationCheck] turns that off). key comes from [HMAC],
// [PublicKey] or [JWKS]. A bad key or option panics; [auth.New] returns the
// error instead.
//
//	r.Use(wsmw.JWT(wsmw.HMAC(secret), wsmw.WithIssuer("https://auth.example.com")))
func JWT(key auth.Key, opts ...Option) func(http.Handler) http.Handler {
	return auth.JWT(key, opts...)
}

// HMAC verifies HS256, HS384 and HS512 tokens with a shared secret (at
// least 32 random bytes).
func HMAC(secret []byte) auth.Key { return auth.HMAC(secret) }

// PublicKey verifies RS*, PS*, ES* or EdDSA tokens with an RSA, ECDSA or
// Ed25519 public key, as crypto/x509 returns them.
func PublicKey(pub crypto.PublicKey) auth.Key { return auth.PublicKey(pub) }

// JWKS verifies tokens with the keys of the JWK Set at url (keyfunc/v3),
// fetched now and refreshed in the background until ctx is done; see
// [auth.JWKS] for its options.
func JWKS(ctx context.Context, url string, opts ...Option) (auth.Key, error) {
	return auth.JWKS(ctx, url, opts...)
}

// WithIssuer requires the iss claim to equal iss.
func WithIssuer(iss string) Option { return auth.WithIssuer(iss) }

// WithAudience requires the aud claim to contain one of aud.
func WithAudience(aud ...string) Option { return auth.WithAudience(aud...) }

// WithLeeway allows clock skew when checking exp, nbf and iat.
func WithLeeway(d time.Duration) Option { return auth.WithLeeway(d) }

// WithCloseAfterUpgrade makes [JWT] upgrade a request whose token is
// missing or refused and then close it with code and reason, instead of
// answering 401 (which a browser's WebSocket cannot read).
func WithCloseAfterUpgrade(code StatusCode, reason string) Option {
	return auth.WithCloseAfterUpgrade(code, reason)
}

// Refresh replaces c's token without reconnecting: the new token is
// validated under the same rules, must name the same subject, and moves
// the session's end to its exp. A refused refresh leaves c as it was (see
// [auth.Refresh]).
func Refresh(c *Conn, token string) error { return auth.Refresh(c, token) }
