package auth

import (
	"fmt"
	"log/slog"
	"slices"

	"github.com/golang-jwt/jwt/v5"
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

// New returns an Authenticator that verifies tokens with key. It reports
// ErrConfig for an unusable key or option.
func New(key Key, opts ...Option) (*Authenticator, error) {
	if key.err != nil {
		return nil, key.err
	}
	if key.keyfunc == nil {
		return nil, fmt.Errorf("%w: no key", ErrConfig)
	}
	cfg := config{maxTokenSize: DefaultMaxTokenSize}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.sources == nil {
		cfg.sources = DefaultSources()
	}
	if len(cfg.sources) == 0 {
		return nil, fmt.Errorf("%w: no token sources", ErrConfig)
	}
	if cfg.newClaims == nil {
		cfg.newClaims = func() jwt.Claims { return new(jwt.RegisteredClaims) }
	}
	if cfg.maxTokenSize <= 0 {
		cfg.maxTokenSize = DefaultMaxTokenSize
	}
	if cfg.rejectCode == 0 {
		cfg.rejectCode = DefaultRejectCode
	}
	if cfg.rejectReason == "" {
		cfg.rejectReason = DefaultRejectReason
	}
	if cfg.expiryCode == 0 {
		cfg.expiryCode = DefaultExpiryCode
	}
	if cfg.expiryReason == "" {
		cfg.expiryReason = DefaultExpiryReason
	}
	if cfg.closeAfter && !cfg.rejectCode.Sendable() {
		return nil, fmt.Errorf("%w: refusal close code %d cannot be sent", ErrConfig, cfg.rejectCode)
	}
	if !cfg.expiryCode.Sendable() {
		return nil, fmt.Errorf("%w: expiry close code %d cannot be sent", ErrConfig, cfg.expiryCode)
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if cfg.leeway < 0 || cfg.warnBefore < 0 || cfg.revalidateInt < 0 {
		return nil, fmt.Errorf("%w: negative duration", ErrConfig)
	}
	algs := key.algs
	if cfg.algs != nil {
		for _, alg := range cfg.algs {
			if !slices.Contains(key.algs, alg) {
				return nil, fmt.Errorf("%w: algorithm %q does not fit the key (%v)", ErrConfig, alg, key.algs)
			}
		}
		algs = cfg.algs
	}
	if len(algs) == 0 {
		return nil, fmt.Errorf("%w: no signing algorithm allowed", ErrConfig)
	}
	for _, alg := range algs {
		if alg == "" || alg == "none" {
			return nil, fmt.Errorf("%w: algorithm %q is never allowed", ErrConfig, alg)
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
