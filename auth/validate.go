package auth

import (
	"context"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Validate parses and verifies token under the Authenticator's rules (key,
// algorithms, exp required, nbf, iat, issuer, audience, leeway, size cap,
// revalidation) and returns its claims, of the type set by WithClaims. A
// refused token yields a *TokenError. ctx bounds key lookups (JWKS) and is
// passed to the revalidation.
func (a *Authenticator) Validate(ctx context.Context, token string) (jwt.Claims, error) {
	claims, _, _, err := a.validate(ctx, token)
	return claims, err
}

// validate also returns the subject and the expiry.
func (a *Authenticator) validate(ctx context.Context, token string) (jwt.Claims, string, time.Time, error) {
	if len(token) > a.cfg.maxTokenSize {
		return nil, "", time.Time{}, &TokenError{Description: "token too large", Err: ErrTokenTooLarge}
	}
	if !wellFormed(token) {
		return nil, "", time.Time{}, &TokenError{Description: "malformed token", Err: jwt.ErrTokenMalformed}
	}
	claims := a.cfg.newClaims()
	if _, err := a.parser.ParseWithClaims(token, claims, a.key.keyfunc(ctx)); err != nil {
		return nil, "", time.Time{}, &TokenError{Description: describe(err), Err: err}
	}
	sub, err := claims.GetSubject()
	if err != nil {
		return nil, "", time.Time{}, &TokenError{Description: "invalid subject", Err: err}
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, "", time.Time{}, &TokenError{Description: "token has no expiry", Err: jwt.ErrTokenRequiredClaimMissing}
	}
	if a.cfg.revalidate != nil {
		if err := a.cfg.revalidate(ctx, claims); err != nil {
			return nil, "", time.Time{}, &TokenError{Description: "token rejected", Err: err}
		}
	}
	return claims, sub, exp.Time, nil
}

// wellFormed reports whether token is a non-empty run of the characters of
// a compact JWS (base64url and dots).
func wellFormed(token string) bool {
	if token == "" {
		return false
	}
	for i := 0; i < len(token); i++ {
		switch b := token[i]; {
		case b >= 'A' && b <= 'Z', b >= 'a' && b <= 'z', b >= '0' && b <= '9', b == '-', b == '_', b == '.':
		default:
			return false
		}
	}
	return true
}

// describe maps a golang-jwt error to a fixed error_description; the
// texts never hold any part of the token.
func describe(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "invalid signature"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unverifiable token"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token has no expiry"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token used before issued"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "invalid issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "invalid audience"
	}
	return "invalid token"
}
