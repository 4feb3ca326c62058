package auth

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// JWKSOption configures JWKS.
type JWKSOption func(*keyfunc.Override, *[]string)

// JWKSRefreshInterval sets how often the JWK Set is fetched again (one
// hour by default).
func JWKSRefreshInterval(d time.Duration) JWKSOption {
	return func(o *keyfunc.Override, _ *[]string) { o.RefreshInterval = d }
}

// JWKSUnknownKIDInterval sets the least time between two fetches caused by
// a token whose kid is not in the set (five minutes by default; the first
// one happens at once). This is what makes a key rotation work before the
// next scheduled refresh, and what keeps tokens with made-up kids from
// hammering the JWKS server.
func JWKSUnknownKIDInterval(d time.Duration) JWKSOption {
	return func(o *keyfunc.Override, _ *[]string) { o.RefreshUnknownKID = rate.NewLimiter(rate.Every(d), 1) }
}

// JWKSHTTPClient sets the HTTP client used to fetch the set.
func JWKSHTTPClient(c *http.Client) JWKSOption {
	return func(o *keyfunc.Override, _ *[]string) { o.Client = c }
}

// JWKSTimeout bounds each fetch of the set.
func JWKSTimeout(d time.Duration) JWKSOption {
	return func(o *keyfunc.Override, _ *[]string) { o.HTTPTimeout = d }
}

// JWKSAlgorithms sets the accepted signing algorithms (RS*, PS*, ES* and
// EdDSA by default; a key's own "alg" must also match the token's).
func JWKSAlgorithms(algs ...string) JWKSOption {
	return func(_ *keyfunc.Override, a *[]string) { *a = append([]string(nil), algs...) }
}

// JWKS verifies tokens with the keys of the JWK Set at url, found by the
// token's kid, using keyfunc/v3: the set is fetched now, refreshed in the
// background until ctx is done, and fetched again (rate limited) when a
// token names an unknown kid. A failed first fetch is not an error; the
// set is fetched again when a token needs it.
func JWKS(ctx context.Context, url string, opts ...JWKSOption) (Key, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var override keyfunc.Override
	algs := asymmetricAlgs
	for _, o := range opts {
		o(&override, &algs)
	}
	k, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, override)
	if err != nil {
		return Key{}, fmt.Errorf("%w: JWKS: %w", ErrConfig, err)
	}
	return Key{keyfunc: func(ctx context.Context) jwt.Keyfunc { return k.KeyfuncCtx(ctx) }, algs: algs}, nil
}
