package auth

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// JWT returns the policy for key: every WebSocket upgrade needs a valid
// token (401 before the upgrade otherwise), and each connection is bound to
// its token (see [Authenticator.Middleware]). Requests that are not upgrades
// pass unchanged. An unusable key or option panics, naming the problem (a
// misconfigured auth policy must not start); use New to handle the error
// yourself.
func JWT(key Key, opts ...middleware.Option) func(http.Handler) http.Handler {
	a, err := New(key, opts...)
	if err != nil {
		panic("wsmw: JWT: " + err.Error())
	}
	return a.Middleware
}

// Middleware is the policy. For an upgrade request it finds the token,
// validates it and, when it is good, lets the upgrade go on with the claims
// in the request context, the token's subject as the connection's subject
// (so [lifecycle.Registry.Revoke] finds it), and a function that ends the
// connection at exp + leeway with 1008 "token expired"
// ([middleware.WithClose] changes it). A missing or refused token gets 401
// with WWW-Authenticate, or, with [WithCloseAfterUpgrade], an upgrade
// followed by a Close frame. A client that offers the "bearer" subprotocol
// gets "bearer" selected when none of the application's subprotocols
// matches, never the token.
//
// Revocations hold, with no option: right before the handshake, once the
// Registry the connection would join is known, a token whose subject that
// Registry revoked is refused like any other refused token, with 401 and
// error_description "token revoked", when it was issued in the revocation's
// second or before (iat counts whole seconds, so a user who logs in again
// gets a token that works a second after the revocation; iat is compared
// without the leeway), or with "token has no iat; subject was revoked" when
// it has no iat. The same check refuses such a token at
// [Authenticator.Authenticate] and [Refresh]. The Registry remembers a
// revocation for its revocation TTL (set it to your tokens' longest
// lifetime); with the cluster module, a revocation made on any server
// reaches every server's Registry. A revocation made between this check and
// the connection's joining the Registry is found right after the join: the
// connection closes with 1008 "session revoked" (cause
// [lifecycle.ErrSessionRevoked] and [ErrTokenRevoked]) before the handler
// runs. A token without a subject ([WithAnonymous]) is never looked up;
// [WithoutRevocationCheck] turns the check off.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !policy.IsUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		if offersBearer(r) {
			r = policy.WithFallbackSubprotocol(r, bearerSubprotocol)
		}
		token, source, found := extract(r, a.cfg.sources)
		if !found && a.cfg.tokenOptional {
			// Unauthenticated: the app authenticates in band (inband.go),
			// and per-subject limits count the connection then.
			next.ServeHTTP(w, policy.WithSubjectPending(r))
			return
		}
		if !found {
			a.reject(w, r, next, "", ErrTokenMissing)
			return
		}
		claims, subject, exp, err := a.validate(r.Context(), token)
		if err != nil {
			a.reject(w, r, next, source, err)
			return
		}
		s := &session{a: a, claims: claims, expiresAt: exp.UnixMicro()}
		r = policy.WithRequestValue(r, sessionKey{}, s) // the connection's is among the Conn's values (attach)
		if subject != "" {
			r = policy.WithSubject(r, subject)
			if !a.cfg.noRevocations {
				r = policy.BeforeUpgrade(r, s.upgradeCheck(source))
			}
		}
		r = policy.Attach(r, s.attach)
		next.ServeHTTP(w, r)
	})
}

// reject answers a request whose token is missing or refused: 401, or,
// with [WithCloseAfterUpgrade], the upgrade, with an attachment that closes
// the connection before the handler runs.
func (a *Authenticator) reject(w http.ResponseWriter, r *http.Request, next http.Handler, source string, err error) {
	if a.refuse(w, r, source, err) {
		end := a.rejection(err)
		next.ServeHTTP(w, policy.Attach(r, func(*lifecycle.Conn) error { return end }))
	}
}

// refuse logs a refused token and answers it with 401, returning false;
// with [WithCloseAfterUpgrade] it answers nothing and returns true: the
// upgrade goes on, and the caller makes the connection close with
// rejection(err) before the handler runs. The line is
// [policy.LogRefusal]'s (Debug level, rate limited process-wide) with the
// name of the token's source, never the token nor the query string.
func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, source string, err error) bool {
	desc := "no token"
	var te *TokenError
	if errors.As(err, &te) {
		desc = te.Description
	}
	var attrs []slog.Attr
	if source != "" {
		attrs = append(attrs, slog.String("source", source))
	}
	if !a.cfg.closeAfter {
		policy.LogRefusal(a.cfg.log, r, http.StatusUnauthorized, desc, attrs...)
		unauthorized(w, a.cfg.realm, err)
		return false
	}
	// The client gets a 101 and then the Close frame; the line says so.
	attrs = append(attrs, slog.Int("close_code", int(a.cfg.rejectCode)))
	policy.LogRefusal(a.cfg.log, r, http.StatusSwitchingProtocols, desc, attrs...)
	return true
}

// rejection is the close of a connection whose token was refused, with
// [WithCloseAfterUpgrade].
func (a *Authenticator) rejection(err error) *lifecycle.CloseError {
	return &lifecycle.CloseError{Code: a.cfg.rejectCode, Reason: a.cfg.rejectReason, Cause: err}
}
