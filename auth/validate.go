package auth

import (
	"context"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Validate parses and verifies token under the Authenticator's rules (key,
// algorithms, exp required, nbf, iat, issuer, audience, subject, leeway,
// size cap, revalidation) and returns its claims, of the type set by
// [WithClaims]. A refused token yields a [*TokenError] whose Description names
// one reason, chosen as described at [TokenError]. ctx bounds key lookups
// (JWKS) and is passed to the revalidation.
//
// Validate knows no connection, hence no Registry: it does not check
// revocations. Where a token opens or renews a connection (the upgrade,
// Authenticate, Refresh) it is also checked against that connection's
// Registry (see [Authenticator.Middleware]); to check a token elsewhere, ask
// the Registry yourself ([lifecycle.Registry.RevokedAt]).
func (a *Authenticator) Validate(ctx context.Context, token string) (jwt.Claims, error) {
	claims, _, _, err := a.validate(ctx, token)
	return claims, err
}

// validate also returns the subject and the expiry.
func (a *Authenticator) validate(ctx context.Context, token string) (jwt.Claims, string, time.Time, error) {
	if len(token) > a.cfg.maxTokenSize {
		return nil, "", time.Time{}, &TokenError{Description: "token too large", Err: errTokenTooLarge}
	}
	if !wellFormed(token) {
		return nil, "", time.Time{}, &TokenError{Description: "malformed token", Err: jwt.ErrTokenMalformed}
	}
	claims := a.cfg.newClaims()
	_, err := a.parser.ParseWithClaims(token, claims, a.key.keyfunc(ctx))
	if te := a.refusal(err, claims); te != nil {
		return nil, "", time.Time{}, te
	}
	// refusal vouches for a subject and an expiry of the right types.
	if rc, ok := claims.(*jwt.RegisteredClaims); ok && a.cfg.issuer != "" && rc.Issuer == a.cfg.issuer {
		rc.Issuer = a.cfg.issuer // the configured string: a connection keeps no copy of its own
	}
	sub, _ := claims.GetSubject()
	exp, _ := claims.GetExpirationTime()
	if a.cfg.revalidate != nil {
		if err := a.cfg.revalidate(ctx, claims); err != nil {
			return nil, "", time.Time{}, &TokenError{Description: "token rejected", Err: err}
		}
	}
	return claims, sub, exp.Time, nil
}

// refusal decides whether a token whose parse ended with err (nil when
// golang-jwt accepted it) is refused, and names the one reason. golang-jwt
// checks every claim and joins what it finds into one error, so the reason
// is picked by a fixed precedence (see [TokenError]): first what errors.Is
// finds about the token as a whole (malformed, signature), then each
// claim in turn, looked at in the parsed claims (ParseWithClaims fills
// them even when validation fails, as long as the token decoded) and in
// err. A missing claim is told from the parsed claims rather than from
// [jwt.ErrTokenRequiredClaimMissing], which does not say which claim it is.
func (a *Authenticator) refusal(err error, claims jwt.Claims) *TokenError {
	refuse := func(desc string, cause error) *TokenError {
		switch {
		case cause == nil, errors.Is(err, cause):
			cause = err
		case err != nil:
			cause = errors.Join(cause, err)
		}
		return &TokenError{Description: desc, Err: cause}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse("malformed token", jwt.ErrTokenMalformed)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse("invalid signature", jwt.ErrTokenSignatureInvalid)
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return refuse("unverifiable token", jwt.ErrTokenUnverifiable)
	}
	// The signature holds: the claims are the signer's. A claim of the
	// wrong type (MapClaims) is malformed, like a RegisteredClaims that does
	// not decode.
	sub, subErr := claims.GetSubject()
	if errors.Is(err, jwt.ErrInvalidType) || subErr != nil {
		return refuse("malformed token", jwt.ErrTokenMalformed)
	}
	if exp, _ := claims.GetExpirationTime(); exp == nil {
		return refuse("token has no expiry", jwt.ErrTokenRequiredClaimMissing)
	}
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return refuse("token expired", nil)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return refuse("token not valid yet", nil)
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return refuse("token used before issued", nil)
	}
	if a.cfg.issuer != "" {
		if iss, _ := claims.GetIssuer(); iss == "" {
			return refuse("token has no issuer", jwt.ErrTokenRequiredClaimMissing)
		}
		if errors.Is(err, jwt.ErrTokenInvalidIssuer) {
			return refuse("invalid issuer", nil)
		}
	}
	if len(a.cfg.audience) > 0 {
		if aud, _ := claims.GetAudience(); len(aud) == 0 || len(aud) == 1 && aud[0] == "" {
			return refuse("token has no audience", jwt.ErrTokenRequiredClaimMissing)
		}
		if errors.Is(err, jwt.ErrTokenInvalidAudience) {
			return refuse("invalid audience", nil)
		}
	}
	if sub == "" && !a.cfg.anonymous {
		return refuse("token has no subject", jwt.ErrTokenRequiredClaimMissing)
	}
	if err != nil {
		// Something else, such as the claims type's own Validate method.
		return refuse("invalid token", nil)
	}
	return nil
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

// subjectOf is the subject of claims that validate accepted.
func subjectOf(claims jwt.Claims) string {
	sub, _ := claims.GetSubject()
	return sub
}
