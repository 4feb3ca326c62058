package ratelimit

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

// This file counts, against MaxConns keyed by subject, the connections
// whose subject is not known at the upgrade: the auth policy let them
// through without a token (auth.WithTokenOptional) and marked them
// ([policy.WithSubjectPending]), and they authenticate in band, after the
// upgrade (auth.Authenticator.Authenticate). Their slot is taken when the
// subject is set on the connection, by a subject check
// (lifecycle.Conn.AddSubjectCheck): a full cap refuses the subject, so that
// Authenticate fails, and leaves the connection as it was.

// subjectSlot returns the attachment that makes a connection's
// Conn.SetSubject take its slot of a cap of n per subject.
func (cfg *config) subjectSlot(n int, policy, prefix string, fl *failureLog) func(*lifecycle.Conn) error {
	return func(c *lifecycle.Conn) error {
		s := &pendingSlot{cfg: cfg, n: n, policy: policy, key: cfg.prefix + prefix + "sub:", fl: fl}
		connx.AddSubjectCheck(c, s.check)
		return nil
	}
}

// pendingSlot is one connection's slot under a cap per subject, taken
// when its subject is set.
type pendingSlot struct {
	cfg    *config
	n      int
	policy string
	key    string // the Store key, but for the subject
	fl     *failureLog

	// subject is the subject whose slot is held, "" for none. Only check
	// and its undo touch it, and SetSubject runs them one at a time.
	subject string
}

// check is the connection's SubjectCheck: it takes a slot for subject, or
// refuses it.
func (s *pendingSlot) check(c *lifecycle.Conn, subject string) (func(), error) {
	switch {
	case s.subject != "" && subject == s.subject:
		return nil, nil // counted already
	case s.subject != "":
		return nil, fmt.Errorf("%w (%s)", ErrSubjectChange, s.policy)
	case subject == "":
		return nil, fmt.Errorf("%w: the connection was authenticated without one, and %s counts by subject", ErrNoSubject, s.policy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	release, _, err := s.cfg.store.Acquire(ctx, s.key+subject, s.n)
	cancel()
	if err != nil {
		if s.cfg.logStoreFailure(s.policy, s.fl, err) {
			return nil, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
		}
		return nil, nil // failing open: uncounted, as at the upgrade
	}
	if release == nil {
		return nil, fmt.Errorf("%w: %s allows %d per subject", ErrTooManyConnections, s.policy, s.n)
	}
	// Released exactly once: by the undo of a SetSubject that a later check
	// refused, or when the connection ends (at once if it has ended).
	var done atomic.Bool
	once := func() {
		if done.CompareAndSwap(false, true) {
			release()
		}
	}
	s.subject = subject
	c.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) { once() })
	return func() {
		s.subject = ""
		once()
	}, nil
}
