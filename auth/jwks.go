package auth

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/middleware"
)

// jwksConfig is what JWKS's options set.
type jwksConfig struct {
	override keyfunc.Override
	algs     []string
}

func jwksOption(name string, f func(*jwksConfig)) middleware.Option {
	return option{name: name, jwks: f}
}

// WithRefreshInterval sets how often JWKS fetches the JWK Set again (one
// hour by default). d must be positive.
func WithRefreshInterval(d time.Duration) middleware.Option {
	if d <= 0 {
		panic(fmt.Sprintf("wsmw: WithRefreshInterval(%v): must be positive", d))
	}
	return jwksOption("WithRefreshInterval", func(c *jwksConfig) { c.override.RefreshInterval = d })
}

// WithUnknownKIDInterval sets the least time between two fetches of JWKS
// caused by a token whose kid is not in the set (five minutes by default;
// the first one happens at once). This is what makes a key rotation work
// before the next scheduled refresh, and what keeps tokens with made-up
// kids from hammering the JWKS server. d must be positive.
func WithUnknownKIDInterval(d time.Duration) middleware.Option {
	if d <= 0 {
		panic(fmt.Sprintf("wsmw: WithUnknownKIDInterval(%v): must be positive", d))
	}
	return jwksOption("WithUnknownKIDInterval", func(c *jwksConfig) { c.override.RefreshUnknownKID = rate.NewLimiter(rate.Every(d), 1) })
}

// WithHTTPClient sets the HTTP client JWKS fetches the set with.
func WithHTTPClient(client *http.Client) middleware.Option {
	if client == nil {
		panic("wsmw: WithHTTPClient(nil)")
	}
	return jwksOption("WithHTTPClient", func(c *jwksConfig) { c.override.Client = client })
}

// WithHTTPTimeout bounds each fetch of the JWK Set. d must be positive.
func WithHTTPTimeout(d time.Duration) middleware.Option {
	if d <= 0 {
		panic(fmt.Sprintf("wsmw: WithHTTPTimeout(%v): must be positive", d))
	}
	return jwksOption("WithHTTPTimeout", func(c *jwksConfig) { c.override.HTTPTimeout = d })
}

// JWKS verifies tokens with the keys of the JWK Set at url, found by the
// token's kid, using keyfunc/v3: the set is fetched now, refreshed in the
// background until ctx is done, and fetched again (rate limited) when a
// token names an unknown kid. A failed first fetch is not an error; the
// set is fetched again when a token needs it.
//
// Options: [WithAlgorithms], [WithRefreshInterval], [WithUnknownKIDInterval],
// [WithHTTPClient], [WithHTTPTimeout]; another panics.
func JWKS(ctx context.Context, url string, opts ...middleware.Option) (Key, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg := jwksConfig{algs: asymmetricAlgs}
	policy.ApplyOptions("JWKS", opts, func(o middleware.Option) bool {
		jo, ok := o.(option)
		if !ok || jo.jwks == nil {
			return false
		}
		jo.jwks(&cfg)
		return true
	})
	algs := cfg.algs
	k, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, cfg.override)
	if err != nil {
		return Key{}, fmt.Errorf("%w: JWKS: %w", errConfig, err)
	}
	return Key{keyfunc: func(ctx context.Context) jwt.Keyfunc { return k.KeyfuncCtx(ctx) }, algs: algs}, nil
}
