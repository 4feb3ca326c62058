package auth

import (
	"errors"

	"github.com/wsmw/wsmw/lifecycle"
)

// Causes and errors reported by the auth policy.
var (
	// ErrTokenExpired is the cause of the close, 1008 "token expired" by
	// default (middleware.WithClose), when a connection's token expires during
	// the session.
	ErrTokenExpired = lifecycle.NewCause("token_expired", "token expired")
	// ErrTokenMissing: the upgrade request carried no token.
	ErrTokenMissing = lifecycle.NewCause("token_missing", "auth: no token")
	// ErrTokenInvalid is matched (errors.Is) by every [*TokenError].
	ErrTokenInvalid = lifecycle.NewCause("token_invalid", "auth: invalid token")
	// ErrSubjectMismatch: a refresh token names another subject than the
	// connection's; the refresh is refused and the connection stays.
	ErrSubjectMismatch = errors.New("auth: refresh token has another subject")
	// ErrTokenRevoked: the connection's Registry revoked the token's
	// subject after the token was issued, or the token has no iat to tell
	// (see [Authenticator.Middleware]); the token is refused as "token
	// revoked" or "token has no iat; subject was revoked".
	ErrTokenRevoked = lifecycle.NewCause("token_revoked", "auth: token revoked")
	// ErrNoSession: the connection was not authenticated by this package.
	ErrNoSession = errors.New("auth: connection has no auth session")
)

// Errors that name a refusal's or a configuration's reason in their text,
// and that no caller needs to match: a too-large token is a [*TokenError]
// whose Description says so, and New's and JWKS's every error is a
// configuration's.
var (
	errTokenTooLarge = errors.New("auth: token too large")
	errConfig        = errors.New("auth: bad configuration")
)

// TokenError tells why a token was refused. Description is a short,
// fixed, token-free text fit for an RFC 6750 error_description and for
// logs; Err is the underlying error (a golang-jwt error such as
// jwt.ErrTokenExpired, [ErrTokenRevoked], or the revalidation's error).
// errors.Is matches [ErrTokenInvalid] and Err.
//
// A token can be wrong in several ways at once (golang-jwt checks every
// claim); Description names one, the first that applies in this order:
//
//   - "token too large", then "malformed token" (not a JWS, a part that does
//     not decode, a claim of the wrong type);
//   - "invalid signature" (including an algorithm that is not allowed), then
//     "unverifiable token" (no key found, JWKS unreachable);
//   - "token has no expiry", "token expired", "token not valid yet" (nbf),
//     "token used before issued" (iat);
//   - with WithIssuer: "token has no issuer", "invalid issuer";
//   - with WithAudience: "token has no audience", "invalid audience";
//   - "token has no subject" (unless WithAnonymous);
//   - "invalid token" for anything else golang-jwt refused (such as the
//     claims type's own Validate method);
//   - then, for a token that passed all of these: "token rejected"
//     (WithRevalidation);
//   - last, where the token opens or renews a connection (not in
//     Validate), against that connection's Registry: "token has no iat;
//     subject was revoked", "token revoked" (see Authenticator.Middleware).
//
// So an expired token without iss is "token expired", and a token with
// neither exp nor iss is "token has no expiry".
type TokenError struct {
	Description string
	Err         error
}

// Error returns "auth: invalid token: " and the description; it never
// includes the token.
func (e *TokenError) Error() string { return "auth: invalid token: " + e.Description }

// Unwrap returns [ErrTokenInvalid] and Err.
func (e *TokenError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrTokenInvalid}
	}
	return []error{ErrTokenInvalid, e.Err}
}
