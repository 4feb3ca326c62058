package auth

import (
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
)

// This file makes revocations hold with no option set: a token is checked
// against the Registry of the connection it opens or renews, which
// remembers Registry.Revoke (and RevokeAt, which the cluster module calls
// on every server) for its revocation TTL.

// revoked refuses a token of subject sub that reg's remembered revocation
// of sub postdates: one issued in the revocation's second or before (iat
// counts whole seconds: a token of the same second cannot be told from one
// issued just before it), or one without iat, which cannot tell. iat is
// compared without the leeway. A nil reg, a token without a subject and
// [WithoutRevocationCheck] check nothing.
func (a *Authenticator) revoked(reg *lifecycle.Registry, sub string, claims jwt.Claims) *TokenError {
	if reg == nil || sub == "" || a.cfg.noRevocations {
		return nil
	}
	at, ok := reg.RevokedAt(sub)
	if !ok {
		return nil
	}
	iat, _ := claims.GetIssuedAt()
	switch {
	case iat == nil:
		return &TokenError{Description: "token has no iat; subject was revoked", Err: ErrTokenRevoked}
	case iat.Time.Truncate(time.Second).After(at.Truncate(time.Second)):
		return nil
	}
	return &TokenError{Description: "token revoked", Err: ErrTokenRevoked}
}

// upgradeCheck is the check that Upgrade runs for the session's token with
// the Registry the connection would join ([policy.BeforeUpgrade]): a
// revoked token is refused as any other refused token, with 401 or, with
// [WithCloseAfterUpgrade], by the session's attachment closing the
// connection. source names where the token was found, for the log.
func (s *session) upgradeCheck(source string) policy.UpgradeCheck {
	return func(w http.ResponseWriter, r *http.Request, reg *lifecycle.Registry) bool {
		te := s.a.revoked(reg, subjectOf(s.claims), s.claims)
		if te == nil {
			return true
		}
		if !s.a.refuse(w, r, source, te) {
			return false
		}
		s.moreOf().rejected = te // attach closes with the refusal's code
		return true
	}
}

// sessionRevoked is the close of a connection whose subject was revoked
// between its token's check and its joining the Registry, which the
// revocation itself may not reach.
func sessionRevoked() *lifecycle.CloseError {
	return &lifecycle.CloseError{Code: lifecycle.StatusPolicyViolation, Reason: "session revoked", Cause: revokedCause{}}
}

// revokedCause is the cause of sessionRevoked's close. Registry.Revoke may
// close the same connection at the same moment with
// [lifecycle.ErrSessionRevoked], and whichever close wins, it is one
// revocation: the cause reads as Revoke's ("session revoked", in logs and
// metrics), and matches [ErrTokenRevoked] too.
type revokedCause struct{}

func (revokedCause) Error() string   { return lifecycle.ErrSessionRevoked.Error() }
func (revokedCause) Unwrap() []error { return []error{lifecycle.ErrSessionRevoked, ErrTokenRevoked} }
