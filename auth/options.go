package auth

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// defaultMaxTokenSize caps a token's length in bytes before it is parsed
// ([WithMaxTokenSize] changes it).
const defaultMaxTokenSize = 8 << 10

// option is one of this package's options. jwt applies it to New (and
// JWT); jwks to JWKS; [WithAlgorithms] has both.
type option struct {
	name string
	jwt  func(*config)
	jwks func(*jwksConfig)
}

func (o option) OptionName() string { return o.name }

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
	noRevocations bool // WithoutRevocationCheck
	expiryCode    lifecycle.StatusCode
	expiryReason  string
	tokenOptional bool // WithTokenOptional (inband.go): no token passes the upgrade unauthenticated
}

// newConfig reads the options of New: this package's and
// [middleware.WithClose] (the token's expiry) and [middleware.WithLogger].
func newConfig(opts []middleware.Option) config {
	cfg := config{
		maxTokenSize: defaultMaxTokenSize,
		rejectCode:   lifecycle.StatusPolicyViolation,
		rejectReason: "invalid token",
		expiryCode:   lifecycle.StatusPolicyViolation,
		expiryReason: "token expired",
		log:          slog.Default(),
	}
	policy.ApplyOptions("JWT", opts, func(o middleware.Option) bool {
		switch o := o.(type) {
		case option:
			if o.jwt == nil {
				return false
			}
			o.jwt(&cfg)
		case policy.CloseOption:
			cfg.expiryCode, cfg.expiryReason = o.Code, o.Reason
		case policy.LoggerOption:
			cfg.log = o.Logger
		default:
			return false
		}
		return true
	})
	return cfg
}

func jwtOption(name string, f func(*config)) middleware.Option { return option{name: name, jwt: f} }

// WithSources sets where tokens are looked for, in order ([DefaultSources]:
// header, subprotocol, query).
func WithSources(sources ...Source) middleware.Option {
	if len(sources) == 0 {
		panic("wsmw: WithSources(): no token source")
	}
	return jwtOption("WithSources", func(c *config) { c.sources = append(make([]Source, 0, len(sources)), sources...) })
}

// WithAlgorithms narrows the accepted signing algorithms: for [New], among
// the key's (those its constructor names; [Authenticator.Algorithms] tells
// the result); for [JWKS], the set accepted (RS*, PS*, ES* and EdDSA by
// default; a key's own "alg" must also match the token's). "none" is never
// accepted.
func WithAlgorithms(algs ...string) middleware.Option {
	return option{
		name: "WithAlgorithms",
		jwt:  func(c *config) { c.algs = append([]string(nil), algs...) },
		jwks: func(c *jwksConfig) { c.algs = append([]string(nil), algs...) },
	}
}

// WithIssuer requires the iss claim to equal iss.
func WithIssuer(iss string) middleware.Option {
	return jwtOption("WithIssuer", func(c *config) { c.issuer = iss })
}

// WithAudience requires the aud claim to contain one of aud.
func WithAudience(aud ...string) middleware.Option {
	return jwtOption("WithAudience", func(c *config) { c.audience = append([]string(nil), aud...) })
}

// WithLeeway allows clock skew when checking exp, nbf and iat; the session
// also ends at exp + leeway. The default is zero; a negative d panics.
func WithLeeway(d time.Duration) middleware.Option {
	if d < 0 {
		panic(fmt.Sprintf("wsmw: WithLeeway(%v): may not be negative", d))
	}
	return jwtOption("WithLeeway", func(c *config) { c.leeway = d })
}

// WithClaims sets the claims type: newClaims returns a fresh value (a
// pointer to a struct that embeds [jwt.RegisteredClaims], or a [jwt.MapClaims])
// for each token. The default is [*jwt.RegisteredClaims].
func WithClaims(newClaims func() jwt.Claims) middleware.Option {
	if newClaims == nil {
		panic("wsmw: WithClaims(nil)")
	}
	return jwtOption("WithClaims", func(c *config) { c.newClaims = newClaims })
}

// WithMaxTokenSize caps a token's length in bytes (8 KiB by default); a
// longer one is refused unparsed, as "token too large". n must be
// positive.
func WithMaxTokenSize(n int) middleware.Option {
	if n <= 0 {
		panic(fmt.Sprintf("wsmw: WithMaxTokenSize(%d): must be positive", n))
	}
	return jwtOption("WithMaxTokenSize", func(c *config) { c.maxTokenSize = n })
}

// WithRealm adds realm="…" to the WWW-Authenticate challenge.
func WithRealm(realm string) middleware.Option {
	return jwtOption("WithRealm", func(c *config) { c.realm = realm })
}

// WithCloseAfterUpgrade makes the policy upgrade a request whose token is
// missing or refused and then close the connection with code and reason,
// instead of answering 401: a browser's WebSocket cannot read a 401.
// 1008 "invalid token" is the usual choice; graphql-transport-ws clients
// expect 4401 (or 4403). The handler never runs. A code that may not be
// sent panics.
func WithCloseAfterUpgrade(code lifecycle.StatusCode, reason string) middleware.Option {
	if !code.Sendable() {
		panic(fmt.Sprintf("wsmw: WithCloseAfterUpgrade(%d, …): %v may not be sent in a Close frame", int(code), code))
	}
	return jwtOption("WithCloseAfterUpgrade", func(c *config) {
		c.closeAfter = true
		c.rejectCode, c.rejectReason = code, connx.TruncateReason(reason)
	})
}

// WithExpiryWarning calls fn, in its own goroutine, before each token of a
// connection expires (at once if it expires sooner than before): the time
// to ask the client for a fresh token. A refresh re-arms it.
func WithExpiryWarning(before time.Duration, fn func(c *lifecycle.Conn, expiresAt time.Time)) middleware.Option {
	if before < 0 || fn == nil {
		panic(fmt.Sprintf("wsmw: WithExpiryWarning(%v, fn): needs a duration that is not negative and a function", before))
	}
	return jwtOption("WithExpiryWarning", func(c *config) { c.warnBefore, c.onExpiring = before, fn })
}

// WithRevalidation checks the claims with fn at the upgrade, at each
// refresh and, when every > 0, every that often during the session, for
// example against a revocation list. An error refuses the upgrade or the
// refresh (as an invalid token) and, during the session, closes the
// connection with 1008 "session revoked" (cause [lifecycle.ErrSessionRevoked]
// wrapping fn's error). fn decides whether a failure to check counts: return
// nil to fail open. ctx is the request's or the connection's context.
func WithRevalidation(every time.Duration, fn func(ctx context.Context, claims jwt.Claims) error) middleware.Option {
	if every < 0 || fn == nil {
		panic(fmt.Sprintf("wsmw: WithRevalidation(%v, fn): needs a period that is not negative and a function", every))
	}
	return jwtOption("WithRevalidation", func(c *config) { c.revalidateInt, c.revalidate = every, fn })
}

// WithAnonymous accepts tokens without a subject (no sub claim, or an
// empty one), which are refused by default with "token has no subject". A
// connection opened with such a token has no subject: it cannot be
// revoked by subject (Registry.Revoke), nor counted by a
// per-subject limit; only its token's exp, a revalidation or a close of
// the connection itself ends it.
func WithAnonymous() middleware.Option {
	return jwtOption("WithAnonymous", func(c *config) { c.anonymous = true })
}

// WithoutRevocationCheck turns off the check that makes a revocation hold:
// by default, a token whose subject the connection's Registry revoked
// (Registry.Revoke, or the cluster module on any server)
// is refused when it was issued before the revocation (see
// [Authenticator.Middleware]), and with it the subject's token without iat.
// With this option such a token opens a new session again;
// Registry.Revoke still closes the subject's live connections. It is a
// trade for deployments that enforce revocation elsewhere, for example
// with tokens that live a few minutes and an identity provider that stops
// issuing them, and that would rather not refuse a token without iat.
func WithoutRevocationCheck() middleware.Option {
	return jwtOption("WithoutRevocationCheck", func(c *config) { c.noRevocations = true })
}
