package auth

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// JWT returns the policy for key: every WebSocket upgrade needs a valid
// token (401 before the upgrade otherwise), and each connection is bound to
// its token (see Authenticator.Middleware). Requests that are not upgrades
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
// (so Registry.Revoke finds it), and an attachment that ends the
// connection at exp + leeway with 1008 "token expired" ([middleware.WithClose]
// changes it). A missing or
// refused token gets 401 with WWW-Authenticate, or, with [WithCloseAfterUpgrade],
// an upgrade followed by a Close frame. A client that offers the "bearer"
// subprotocol gets "bearer" selected when none of the application's
// subprotocols matches, never the token.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !middleware.IsUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		if offersBearer(r) {
			r = middleware.WithFallbackSubprotocol(r, BearerSubprotocol)
		}
		token, source, found := Extract(r, a.cfg.sources)
		if !found && a.cfg.tokenOptional {
			// Unauthenticated: the app authenticates in band (inband.go),
			// and per-subject limits count the connection then.
			next.ServeHTTP(w, middleware.WithSubjectPending(r))
			return
		}
		if !found {
			a.refuse(w, r, next, "", ErrTokenMissing)
			return
		}
		claims, subject, exp, err := a.validate(r.Context(), token)
		if err != nil {
			a.refuse(w, r, next, source, err)
			return
		}
		s := &session{a: a, claims: claims, expiresAt: exp.UnixMicro()}
		r = middleware.WithValue(r, sessionKey{}, s)
		if subject != "" {
			r = middleware.WithSubject(r, subject)
		}
		r = middleware.Attach(r, s.attach)
		next.ServeHTTP(w, r)
	})
}

// refuse logs a refused upgrade and answers it: 401, or an upgrade whose
// attachment closes the connection before the handler runs. The line is
// middleware.LogRefusal's (Debug level, rate limited process-wide) with
// the name of the token's source, never the token nor the query string.
func (a *Authenticator) refuse(w http.ResponseWriter, r *http.Request, next http.Handler, source string, err error) {
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
		middleware.LogRefusal(a.cfg.log, r, http.StatusUnauthorized, desc, attrs...)
		unauthorized(w, a.cfg.realm, err)
		return
	}
	// The client gets a 101 and then the Close frame; the line says so.
	attrs = append(attrs, slog.Int("close_code", int(a.cfg.rejectCode)))
	middleware.LogRefusal(a.cfg.log, r, http.StatusSwitchingProtocols, desc, attrs...)
	end := &lifecycle.CloseError{Code: a.cfg.rejectCode, Reason: a.cfg.rejectReason, Cause: err}
	r = middleware.Attach(r, func(*lifecycle.Conn) error { return end })
	next.ServeHTTP(w, r)
}
