package auth

import (
	"context"
	"errors"
	"sync"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// This file is in-band authentication: the token arrives after the upgrade,
// in the connection's first message (graphql-transport-ws's
// connection_init payload, for example), because a browser cannot set
// headers on a WebSocket.

// WithTokenOptional lets an upgrade request that carries no token through,
// unauthenticated: no subject, no claims, no expiry. A token that is
// present but refused still gets 401 (or the [WithCloseAfterUpgrade]
// close). The application must then authenticate the connection in band,
// with [Authenticator.Authenticate], and should bound the time it allows
// for that (timeout.InitTimeout, or the gqlgen adapter's init timeout):
// until then the connection belongs to nobody. The request is marked as one
// whose subject comes later, so that a per-subject cap after the policy
// (ratelimit.MaxConns with KeyBySubject) lets it through and counts the
// connection when Authenticate sets its subject, instead of refusing it
// with 403.
func WithTokenOptional() middleware.Option {
	return jwtOption("WithTokenOptional", func(c *config) { c.tokenOptional = true })
}

// bindKey keeps a connection's bind lock among its values: it makes
// finding or creating the connection's session atomic, and is taken once
// per in-band authentication, never on a message path. It is the
// connection's own, so that a slow subject check (a per-subject cap asking
// Redis) holds up no other connection.
type bindKey struct{}

func bindLock(c *lifecycle.Conn) *sync.Mutex {
	v, _ := c.LoadOrStore(bindKey{}, new(sync.Mutex))
	return v.(*sync.Mutex)
}

// Authenticate authenticates c in band with token, a token received after
// the upgrade. The token is validated under the same rules as at the
// upgrade (key, algorithms, exp, nbf, iat, issuer, audience, leeway, size
// cap, revalidation) and against c's Registry: a token of a subject it
// revoked, issued before the revocation or without iat, is refused with
// "token revoked" or "token has no iat; subject was revoked" (see
// Middleware). A refused token yields a [*TokenError], like Validate, and
// leaves c as it was: closing it is the caller's decision (the
// graphql-transport-ws answer is 4403 Forbidden).
//
// On a connection without a session, a good token binds one exactly as the
// upgrade does: the token's subject becomes c's subject (Registry.Revoke
// finds it), c closes with 1008 "token expired" at exp + leeway, [ClaimsOf],
// [ExpiresAt] and Refresh work, and the expiry warning and periodic
// revalidation start if configured.
//
// Setting the subject may be refused by a policy that counts connections
// by subject (a check SetSubject consults): a ratelimit.MaxConns keyed
// by subject whose cap the subject has reached refuses with an error that
// matches ratelimit.ErrTooManyConnections (ErrStoreUnavailable when its
// Store fails and it fails closed; ErrNoSubject for a token without a
// subject, as at the upgrade). Authenticate returns that error and binds
// nothing: c is left as it was, and closing it is, again, the caller's
// decision (the gqlgen adapter closes with 1013, which graphql-ws clients
// retry with backoff).
//
// On a connection that already has a session (authenticated at the
// upgrade, or by an earlier Authenticate), Authenticate is Refresh: the
// token must name the same subject (else [ErrSubjectMismatch]) and moves the
// session's end; a connection can never change hands in band. A session
// made by another Authenticator refuses it with [ErrNoSession].
//
// Once c is closing, Authenticate returns the close's [*lifecycle.CloseError].
// A revocation of the subject that comes while Authenticate binds the
// session closes c with 1008 "session revoked", as Registry.Revoke would a
// moment later, and Authenticate returns that close.
func (a *Authenticator) Authenticate(c *lifecycle.Conn, token string) error {
	if c == nil {
		return ErrNoSession
	}
	if s := sessionOf(c); s != nil {
		return a.refreshIn(s, c, token)
	}
	return a.bind(c, token)
}

// bind authenticates c, which had no session, with token, and reports the
// outcome to the connection's decision observers.
func (a *Authenticator) bind(c *lifecycle.Conn, token string) (err error) {
	ctx := c.Context()
	raced := false
	defer func() {
		if !raced { // a refresh reported itself
			reportAuth(ctx, decisionAuthenticated, err)
		}
	}()
	claims, subject, exp, err := a.validate(ctx, token)
	if err != nil {
		return err
	}
	if te := a.revoked(connx.RegistryOf(c), subject, claims); te != nil {
		return te
	}
	mu := bindLock(c)
	mu.Lock()
	defer mu.Unlock()
	if s := sessionOf(c); s != nil {
		// Another Authenticate won the race: this token is a refresh of it.
		raced = true
		return a.refreshIn(s, c, token)
	}
	if c.Err() != nil {
		return context.Cause(ctx)
	}
	// A token without a subject (WithAnonymous) leaves a subject the
	// application set alone, but still asks the subject checks, which may
	// refuse a connection that would stay without one.
	if subject != "" || c.Subject() == "" {
		if err := c.SetSubject(subject); err != nil {
			return err
		}
	}
	s := &session{a: a, claims: claims, expiresAt: exp.UnixMicro()}
	if err := s.attach(c); err != nil {
		// The subject was revoked since the check above: as if the
		// revocation had found the connection, which it would have a
		// moment later.
		if ce := (*lifecycle.CloseError)(nil); errors.As(err, &ce) {
			connx.CloseAsync(c, ce.Cause, ce.Code, ce.Reason) // no wait: the caller may be c's reader
		}
		return err
	}
	return nil
}

func (a *Authenticator) refreshIn(s *session, c *lifecycle.Conn, token string) error {
	if s.a != a {
		return ErrNoSession
	}
	return s.refresh(c.Context(), token)
}

// NewContext returns ctx carrying c's session, so that [ClaimsFromContext] on
// ctx (or on a context derived from it) reports c's current claims, also
// after a refresh. It is for contexts that do not come from the upgrade
// request, such as the one a protocol library hands its resolvers after an
// in-band Authenticate. ctx is returned unchanged when c has no session.
func NewContext(ctx context.Context, c *lifecycle.Conn) context.Context {
	s := sessionOf(c)
	if s == nil {
		return ctx
	}
	return context.WithValue(ctx, sessionKey{}, s)
}
