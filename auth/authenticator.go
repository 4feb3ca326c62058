package auth

import (
	"fmt"
	"slices"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/middleware"
)

// Authenticator validates tokens and binds connections to them. Make one
// with New; it is safe for concurrent use. JWT is the short form for a
// middleware.
type Authenticator struct {
	cfg    config
	key    Key
	algs   []string
	parser *jwt.Parser
}

// New returns an Authenticator that verifies tokens with key, configured
// by this package's options and [middleware.WithClose] (the close of a
// connection whose token expires: 1008 "token expired" by default) and
// [middleware.WithLogger]. It returns an error for an unusable key or an
// algorithm that does not fit it; an option that does not apply panics.
func New(key Key, opts ...middleware.Option) (*Authenticator, error) {
	if key.err != nil {
		return nil, key.err
	}
	if key.keyfunc == nil {
		return nil, fmt.Errorf("%w: no key", errConfig)
	}
	cfg := newConfig(opts)
	if cfg.sources == nil {
		cfg.sources = DefaultSources()
	}
	if len(cfg.sources) == 0 {
		return nil, fmt.Errorf("%w: no token sources", errConfig)
	}
	if cfg.newClaims == nil {
		cfg.newClaims = func() jwt.Claims { return new(jwt.RegisteredClaims) }
	}
	algs := key.algs
	if cfg.algs != nil {
		for _, alg := range cfg.algs {
			if !slices.Contains(key.algs, alg) {
				return nil, fmt.Errorf("%w: algorithm %q does not fit the key (%v)", errConfig, alg, key.algs)
			}
		}
		algs = cfg.algs
	}
	if len(algs) == 0 {
		return nil, fmt.Errorf("%w: no signing algorithm allowed", errConfig)
	}
	for _, alg := range algs {
		if alg == "" || alg == "none" {
			return nil, fmt.Errorf("%w: algorithm %q is never allowed", errConfig, alg)
		}
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.leeway),
	}
	if cfg.issuer != "" {
		popts = append(popts, jwt.WithIssuer(cfg.issuer))
	}
	if len(cfg.audience) > 0 {
		popts = append(popts, jwt.WithAudience(cfg.audience...))
	}
	return &Authenticator{cfg: cfg, key: key, algs: slices.Clone(algs), parser: jwt.NewParser(popts...)}, nil
}

// Algorithms returns the signing algorithms the Authenticator accepts.
func (a *Authenticator) Algorithms() []string { return slices.Clone(a.algs) }
