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
// nil when c was not authenticated by this package. Treat them as read-only.
func ClaimsOf(c *lifecycle.Conn) jwt.Claims {
	if s := sessionOf(c); s != nil {
		return s.current()
	}
	return nil
}

// ClaimsFromContext returns the current claims from a request context
// (after the policy ran) or a connection's context (Conn.Context), nil if
// there are none.
func ClaimsFromContext(ctx context.Context) jwt.Claims {
	if s := sessionFromContext(ctx); s != nil {
		return s.current()
	}
	return nil
}

// ClaimsAs returns c's current claims as T, the type made by WithClaims
// (such as *MyClaims or jwt.MapClaims).
func ClaimsAs[T jwt.Claims](c *lifecycle.Conn) (T, bool) {
	t, ok := ClaimsOf(c).(T)
	return t, ok
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
