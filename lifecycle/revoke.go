package lifecycle

import (
	"errors"
	"sync"
	"time"
)

// defaultRevocationTTL is how long a Registry remembers a revocation: as
// long as the tokens issued before it can stay valid. Set it to your
// tokens' longest lifetime with [WithRevocationTTL].
const defaultRevocationTTL = 24 * time.Hour

// WithRevocationTTL sets how long Revoke is remembered for RevokedAt
// (24 hours by default): at least the longest lifetime of the tokens that
// the revocation must outlast.
func WithRevocationTTL(d time.Duration) RegistryOption {
	return func(r *Registry) {
		if d > 0 {
			r.revocations.ttl = d
		}
	}
}

// Revoke ends subject's sessions: every live connection of subject is
// closed with 1008 "session revoked" (cause [ErrSessionRevoked]), and the
// revocation is remembered (see RevokedAt) so that an auth policy refuses
// the tokens of subject issued before now. It returns how many of
// subject's connections end revoked — those it started closing, those
// whose handshake was under way, and those that were closing for a
// revocation already (an auth policy that saw the remembered revocation
// first) — without waiting for their close handshakes.
func (r *Registry) Revoke(subject string) int { return r.revokeAt(subject, time.Now()) }

// revokeAt is Revoke for a revocation made at a given time, such as one
// received from another server: it closes subject's connections opened
// before at, including those whose handshake is under way, and remembers
// at. A later revokeAt of the same subject with an earlier time changes
// nothing that is remembered.
func (r *Registry) revokeAt(subject string, at time.Time) int {
	r.revocations.record(subject, at)
	var conns []*Conn
	upgrading := 0
	r.mu.Lock()
	for c := r.bySubject[subject]; c != nil; c = c.next() {
		if !c.openedTime().After(at) {
			conns = append(conns, c)
		}
	}
	for t := range r.pending {
		if t.subject == subject && !t.revoked && !t.at.After(at) {
			t.revoked = true // Accept closes it as soon as its Conn exists
			upgrading++
		}
	}
	r.mu.Unlock()
	r.closeAll(conns, ErrSessionRevoked, StatusPolicyViolation, "session revoked", time.Time{})
	revoked := upgrading
	for _, c := range conns {
		if errors.Is(c.Err(), ErrSessionRevoked) {
			revoked++
		}
	}
	return revoked
}

// RevocationTTL returns how long the Registry remembers a revocation (see
// [WithRevocationTTL]).
func (r *Registry) revocationTTL() time.Duration { return r.revocations.ttl }

// RevokedAt returns the time of subject's latest revocation, and false when
// subject was not revoked within the revocation TTL. Auth policies refuse
// tokens of subject issued before it.
func (r *Registry) RevokedAt(subject string) (time.Time, bool) {
	return r.revocations.lookup(subject, time.Now())
}

// revocations remembers revoked subjects for ttl. Expired entries are
// purged as new ones are recorded, so memory follows the revocations of
// the last ttl.
type revocations struct {
	mu      sync.Mutex
	ttl     time.Duration
	at      map[string]time.Time
	order   []revoked // by record time, for purging
	purgeAt int       // purge when order grows past this
}

type revoked struct {
	subject string
	until   time.Time
}

func (rv *revocations) record(subject string, at time.Time) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.at == nil {
		rv.at = make(map[string]time.Time)
	}
	if prev, ok := rv.at[subject]; ok && !at.After(prev) {
		return
	}
	rv.at[subject] = at
	rv.order = append(rv.order, revoked{subject, at.Add(rv.ttl)})
	if len(rv.order) > rv.purgeAt {
		rv.purge(time.Now())
		rv.purgeAt = max(64, 2*len(rv.order))
	}
}

// purge drops the entries whose TTL has passed. rv.mu is held.
func (rv *revocations) purge(now time.Time) {
	keep := rv.order[:0]
	for _, e := range rv.order {
		at, ok := rv.at[e.subject]
		switch {
		case !ok || !at.Add(rv.ttl).Equal(e.until):
			// superseded by a later record of the subject
		case now.After(e.until):
			delete(rv.at, e.subject)
		default:
			keep = append(keep, e)
		}
	}
	clear(rv.order[len(keep):])
	rv.order = keep
}

func (rv *revocations) lookup(subject string, now time.Time) (time.Time, bool) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	at, ok := rv.at[subject]
	if !ok || now.After(at.Add(rv.ttl)) {
		return time.Time{}, false
	}
	return at, true
}
