package auth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

// session binds one connection to its current token.
type session struct {
	a *Authenticator

	mu        sync.Mutex
	conn      *lifecycle.Conn
	claims    jwt.Claims      // its subject is the session's
	expiresAt int64           // the token's exp, in Unix microseconds (a time.Time is three words)
	expiry    lifecycle.Timer // fires at exp + leeway
	more      *sessionMore    // what few sessions need; nil for most
}

// sessionMore is the part of a session that only some options or a
// refused upgrade need.
type sessionMore struct {
	warn     lifecycle.Timer // fires warnBefore before exp (WithExpiryWarning)
	recheck  lifecycle.Timer // periodic revalidation (WithRevalidation)
	rejected error           // set by upgradeCheck, with WithCloseAfterUpgrade: attach closes
}

// moreOf returns s.more, making it.
func (s *session) moreOf() *sessionMore {
	if s.more == nil {
		s.more = new(sessionMore)
	}
	return s.more
}

// attach runs right after the upgrade, once the connection has joined the
// Registry, before the handler.
func (s *session) attach(c *lifecycle.Conn) error {
	if s.more != nil && s.more.rejected != nil {
		return s.a.rejection(s.more.rejected)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// A revocation made after the token was checked but before the
	// connection joined the Registry did not see it: look again now that
	// a Revoke from here on will.
	if s.a.revoked(connx.RegistryOf(c), subjectOf(s.claims), s.claims) != nil {
		return sessionRevoked()
	}
	s.conn = c
	c.LoadOrStore(sessionKey{}, s)
	now := time.Now()
	c.StartTimer(&s.expiry, s.deadline().Sub(now), s.expire)
	if s.a.cfg.onExpiring != nil {
		c.StartTimer(&s.moreOf().warn, s.warnAt().Sub(now), s.warnFire)
	}
	if s.a.cfg.revalidate != nil && s.a.cfg.revalidateInt > 0 {
		c.StartTimer(&s.moreOf().recheck, s.a.cfg.revalidateInt, s.recheckFire)
	}
	return nil
}

// deadline is when the session ends: exp + leeway. Callers hold s.mu.
func (s *session) deadline() time.Time { return s.exp().Add(s.a.cfg.leeway) }

// exp is the token's exp. Callers hold s.mu.
func (s *session) exp() time.Time { return time.UnixMicro(s.expiresAt) }

// warnAt is when the expiry warning is due. Callers hold s.mu.
func (s *session) warnAt() time.Time { return s.exp().Add(-s.a.cfg.warnBefore) }

// expire ends the connection unless a refresh moved the deadline.
func (s *session) expire() {
	s.mu.Lock()
	c, due := s.conn, !time.Now().Before(s.deadline())
	s.mu.Unlock()
	if due {
		code, reason := s.a.expiryCloseOf(c)
		c.CloseWith(ErrTokenExpired, code, reason)
	}
}

func (s *session) warnFire() {
	s.mu.Lock()
	c, exp, due := s.conn, s.exp(), !time.Now().Before(s.warnAt())
	s.mu.Unlock()
	if due {
		s.a.cfg.onExpiring(c, exp)
	}
}

func (s *session) recheckFire() {
	s.mu.Lock()
	c, claims, t := s.conn, s.claims, &s.more.recheck
	s.mu.Unlock()
	if err := s.a.cfg.revalidate(c.Context(), claims); err != nil {
		c.CloseWith(fmt.Errorf("%w: %w", lifecycle.ErrSessionRevoked, err), lifecycle.StatusPolicyViolation, "session revoked")
		return
	}
	t.Reset(s.a.cfg.revalidateInt)
}

func (s *session) current() jwt.Claims {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claims
}

// refresh validates token and, when it is good and names the same
// subject, makes it the connection's token.
func (s *session) refresh(ctx context.Context, token string) (err error) {
	defer func() { reportAuth(ctx, decisionTokenRefreshed, err) }()
	claims, subject, exp, err := s.a.validate(ctx, token)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if subject != subjectOf(s.claims) {
		return ErrSubjectMismatch
	}
	if s.conn == nil {
		return ErrNoSession
	}
	if s.conn.Err() != nil {
		return context.Cause(s.conn.Context())
	}
	if te := s.a.revoked(connx.RegistryOf(s.conn), subject, claims); te != nil {
		return te
	}
	s.claims, s.expiresAt = claims, exp.UnixMicro()
	now := time.Now()
	s.expiry.Reset(s.deadline().Sub(now))
	if s.more != nil {
		s.more.warn.Reset(s.warnAt().Sub(now)) // does nothing unless started
	}
	return nil
}

// Refresh replaces c's token with token, without reconnecting: the new
// token is validated under the same rules as at the upgrade, must name the
// same subject (else [ErrSubjectMismatch]), and moves the end of the session
// to its exp + leeway. A token that the connection's Registry revoked is
// refused (see [Authenticator.Middleware]). A refused refresh leaves the
// connection and its current token as they were. It returns [ErrNoSession] for a connection
// that this package did not authenticate.
func Refresh(c *lifecycle.Conn, token string) error {
	s := sessionOf(c)
	if s == nil {
		return ErrNoSession
	}
	return s.refresh(c.Context(), token)
}
