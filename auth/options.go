package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/lifecycle"
)

// DefaultMaxTokenSize caps a token's length in bytes before it is parsed.
const DefaultMaxTokenSize = 8 << 10

// Default close of a connection whose token expires during the session
// (see WithExpiryClose).
const (
	DefaultExpiryCode   = lifecycle.StatusPolicyViolation
	DefaultExpiryReason = "token expired"
)

// Default close of a connection whose token was refused, when the policy
// upgrades first (CloseAfterUpgrade).
const (
	DefaultRejectCode   = lifecycle.StatusPolicyViolation
	DefaultRejectReason = "invalid token"
)

// Option configures the JWT policy.
type Option func(*config)

type config struct {
	sources       []Source
	algs          []string
	issuer        string
	audience      []string
	leeway        time.Duration
	newClaims     func() jwt.Claims
	maxTokenSize  int
	realm         string
	closeAfter    bool
	rejectCode    lifecycle.StatusCode
	rejectReason  string
	warnBefore    time.Duration
	onExpiring    func(c *lifecycle.Conn, expiresAt time.Time)
	revalidate    func(ctx context.Context, claims jwt.Claims) error
	revalidateInt time.Duration
	log           *slog.Logger
	anonymous     bool
	revocations   RevocationList
	expiryCode    lifecycle.StatusCode
	expiryReason  string
	tokenOptional bool // TokenOptional (inband.go): no token passes the upgrade unauthenticated
}

// WithSources sets where tokens are looked for, in order (DefaultSources:
// header, subprotocol, query).
func WithSources(sources ...Source) Option {
	return func(c *config) { c.sources = append(make([]Source, 0, len(sources)), sources...) }
}

// WithAlgorithms narrows the accepted signing algorithms; they must be
// among the key's (see Key.Algorithms). "none" is never accepted.
func WithAlgorithms(algs ...string) Option {
	return func(c *config) { c.algs = append([]string(nil), algs...) }
}

// WithIssuer requires the iss claim to equal iss.
func WithIssuer(iss string) Option { return func(c *config) { c.issuer = iss } }

// WithAudience requires the aud claim to contain one of aud.
func WithAudience(aud ...string) Option {
	return func(c *config) { c.audience = append([]string(nil), aud...) }
}

// WithLeeway allows clock skew when checking exp, nbf and iat; the session
// also ends at exp + leeway. The default is zero.
func WithLeeway(d time.Duration) Option { return func(c *config) { c.leeway = d } }

// WithClaims sets the claims type: newClaims returns a fresh value (a
// pointer to a struct that embeds jwt.RegisteredClaims, or a jwt.MapClaims)
// for each token. The default is *jwt.RegisteredClaims.
func WithClaims(newClaims func() jwt.Claims) Option {
	return func(c *config) { c.newClaims = newClaims }
}

// WithMaxTokenSize caps a token's length in bytes (DefaultMaxTokenSize); a
// longer one is refused unparsed.
func WithMaxTokenSize(n int) Option { return func(c *config) { c.maxTokenSize = n } }

// WithRealm adds realm="…" to the WWW-Authenticate challenge.
func WithRealm(realm string) Option { return func(c *config) { c.realm = realm } }

// CloseAfterUpgrade makes the policy upgrade a request whose token is
// missing or refused and then close the connection with code and reason,
// instead of answering 401: a browser's WebSocket cannot read a 401. Zero
// code and empty reason mean 1008 "invalid token"; graphql-transport-ws
// clients expect 4401 (or 4403). The handler never runs.
func CloseAfterUpgrade(code lifecycle.StatusCode, reason string) Option {
	return func(c *config) {
		c.closeAfter = true
		c.rejectCode, c.rejectReason = code, reason
	}
}

// WithExpiryWarning calls fn, in its own goroutine, before each token of a
// connection expires (at once if it expires sooner than before): the time
// to ask the client for a fresh token. A refresh re-arms it.
func WithExpiryWarning(before time.Duration, fn func(c *lifecycle.Conn, expiresAt time.Time)) Option {
	return func(c *config) { c.warnBefore, c.onExpiring = before, fn }
}

// WithRevalidation checks the claims with fn at the upgrade, at each
// refresh and, when every > 0, every that often during the session, for
// example against a revocation list. An error refuses the upgrade or the
// refresh (as an invalid token) and, during the session, closes the
// connection with 1008 "session revoked" (cause lifecycle.ErrSessionRevoked
// wrapping fn's error). fn decides whether a failure to check counts: return
// nil to fail open. ctx is the request's or the connection's context.
func WithRevalidation(every time.Duration, fn func(ctx context.Context, claims jwt.Claims) error) Option {
	return func(c *config) { c.revalidateInt, c.revalidate = every, fn }
}

// WithLogger sets the logger for refused upgrades (slog.Default by
// default): one Debug line each, "ws upgrade refused", through
// middleware.LogRefusal, with the reason and the token's source. It never
// receives a token or a query string.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithAnonymous accepts tokens without a subject (no sub claim, or an
// empty one), which are refused by default with "token has no subject". A
// connection opened with such a token has no subject: it cannot be
// revoked by subject (Registry.Revoke, WithRevocations), nor counted by a
// per-subject limit; only its token's exp, a revalidation or a close of
// the connection itself ends it.
func WithAnonymous() Option { return func(c *config) { c.anonymous = true } }

// RevocationList tells when a subject was last revoked. A
// *lifecycle.Registry is one: its Revoke and RevokeAt are remembered for
// the Registry's revocation TTL. RevokedAt is called at every upgrade and
// every refresh, so it should answer from memory.
type RevocationList interface {
	// RevokedAt returns the time of subject's latest revocation still in
	// force, and false when subject is not revoked.
	RevokedAt(subject string) (time.Time, bool)
}

// WithRevocations makes revocations hold: a token whose subject list
// reports revoked at T is refused, at the upgrade (401, error_description
// "token revoked") and at a refresh (the connection stays open), when its
// iat is before T or when it has no iat. iat counts whole seconds, so T is
// truncated to the second: a token issued in the same second as the
// revocation is accepted. That is what lets a user who logs in again
// right after a revocation connect with the new token; a token issued
// earlier in that same second gets through too. iat is compared without
// the leeway: an issuer whose clock runs behind the server's may issue
// tokens that are refused until its clock passes T.
//
// Pass the Registry that the connections join (lifecycle.Registry
// implements RevocationList), or a list shared by a cluster. The list is
// asked again right after the upgrade, once the connection has joined the
// Registry: a revocation made between the token's check and the join
// closes the new connection with 1008 "session revoked" (cause
// lifecycle.ErrSessionRevoked and ErrTokenRevoked) before the handler
// runs. A token without a subject (WithAnonymous) is never looked up.
func WithRevocations(list RevocationList) Option {
	return func(c *config) { c.revocations = list }
}

var _ RevocationList = (*lifecycle.Registry)(nil)

// WithExpiryClose sets the close code and reason of a connection whose
// token expires during the session, at exp + leeway: 1008 "token expired"
// (DefaultExpiryCode, DefaultExpiryReason) by default. A zero code or an
// empty reason keeps the default. graphql-transport-ws clients expect
// 4401 "Unauthorized" (or 4403 "Forbidden"). New reports ErrConfig for a
// code that cannot be sent in a Close frame (see
// lifecycle.StatusCode.Sendable). The cause is ErrTokenExpired either way.
func WithExpiryClose(code lifecycle.StatusCode, reason string) Option {
	return func(c *config) { c.expiryCode, c.expiryReason = code, reason }
}
