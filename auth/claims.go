package auth

import (
	"context"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/lifecycle"
)

type sessionKey struct{}

func sessionOf(c *lifecycle.Conn) *session {
	if c == nil {
		return nil
	}
	s, _ := c.Value(sessionKey{}).(*session)
	return s
}

func sessionFromContext(ctx context.Context) *session {
	if ctx == nil {
		return nil
	}
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

// ClaimsOf returns the claims of c's current token (the latest refresh),
// nil when c was not authenticated by this package: a value of the type
// [WithClaims] makes ([*jwt.RegisteredClaims] by default), so a type
// assertion gives typed access:
//
//	claims, ok := auth.ClaimsOf(c).(*MyClaims)
//
// Treat them as read-only. Code that has a context rather than the Conn
// (a GraphQL resolver) uses [ClaimsFromContext].
func ClaimsOf(c *lifecycle.Conn) jwt.Claims {
	if s := sessionOf(c); s != nil {
		return s.current()
	}
	return nil
}

// ClaimsFromContext returns the current claims, as [ClaimsOf] does, from a
// request context (after the policy ran), a connection's context
// ([lifecycle.Conn.Context]) when the token came at the upgrade, or a
// context made by [NewContext]; nil if there are none.
func ClaimsFromContext(ctx context.Context) jwt.Claims {
	if s := sessionFromContext(ctx); s != nil {
		return s.current()
	}
	return nil
}

// ExpiresAt returns the exp of c's current token, false when c was not
// authenticated by this package.
func ExpiresAt(c *lifecycle.Conn) (time.Time, bool) {
	s := sessionOf(c)
	if s == nil {
		return time.Time{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exp(), true
}
