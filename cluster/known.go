package cluster

import (
	"slices"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
)

// known is what a Node knows of the revocations in force: the latest of
// each subject made within the Registry's revocation TTL, and the stream
// generation that last carried it. Redis can lose the stream's entries: all
// of them on a restart without persistence, the last few on a failover to a
// replica that had not received them. A Node that finds so publishes again
// the revocations it knows that the stream no longer carries, so that every
// server — one started afterwards too — keeps enforcing them. Guarded by
// Node.mu.
type known struct {
	subjects map[string]knownRevocation
	seen     streamID // the highest stream entry ID read or published
	gen      uint64   // bumped whenever Redis is found to have lost entries
}

type knownRevocation struct {
	before int64    // Unix ms when it was made
	id     streamID // the last stream entry that carried it
	gen    uint64   // the generation of that entry
}

func (k *known) init() { k.subjects = make(map[string]knownRevocation) }

// noteLocked records that the stream carries rv (read from it, or just
// published).
func (n *Node) noteLocked(rv revocation) {
	if n.seen.less(rv.id) {
		n.seen = rv.id
	}
	if rv.subject == "" {
		return
	}
	k, ok := n.subjects[rv.subject]
	switch {
	case !ok || k.before < rv.before:
		n.subjects[rv.subject] = knownRevocation{before: rv.before, id: rv.id, gen: n.gen}
		if !ok && int64(len(n.subjects)) > n.retention {
			n.pruneLocked(time.Now())
		}
	case k.before == rv.before && (k.gen < n.gen || k.id.less(rv.id)):
		// The stream carries it (again): after a loss the new stream's IDs
		// can be lower than the old ones, so a lower ID counts too.
		n.subjects[rv.subject] = knownRevocation{before: k.before, id: rv.id, gen: n.gen}
	}
}

func (n *Node) note(rv revocation) {
	n.mu.Lock()
	n.noteLocked(rv)
	n.mu.Unlock()
}

// lostLocked records that the stream lost the entries after last (all of
// them when last is zero): the revocations they carried are to be published
// again.
func (n *Node) lostLocked(last streamID) {
	n.gen++
	for s, k := range n.subjects {
		if !last.isZero() && !last.less(k.id) {
			k.gen = n.gen // still in the stream
			n.subjects[s] = k
		}
	}
	n.seen = last
}

// republishLocked returns up to limit revocations in force that the stream
// no longer carries, and forgets those past the revocation TTL.
func (n *Node) republishLocked(limit int) []revocation {
	var out []revocation
	oldest := n.oldestInForce(time.Now())
	for s, k := range n.subjects {
		switch {
		case k.before < oldest:
			delete(n.subjects, s)
		case k.gen < n.gen && len(out) < limit:
			out = append(out, revocation{subject: s, before: k.before})
		}
	}
	return out
}

// oldestInForce returns the time (Unix ms) of the oldest revocation that
// still holds at now.
func (n *Node) oldestInForce(now time.Time) int64 {
	return now.Add(-connx.RevocationTTL(n.reg) - n.skew).UnixMilli()
}

// pruneLocked forgets the revocations past the TTL and, beyond the
// retention (the stream keeps no more), the oldest.
func (n *Node) pruneLocked(now time.Time) {
	oldest := n.oldestInForce(now)
	for s, k := range n.subjects {
		if k.before < oldest {
			delete(n.subjects, s)
		}
	}
	if int64(len(n.subjects)) <= n.retention {
		return
	}
	times := make([]int64, 0, len(n.subjects))
	for _, k := range n.subjects {
		times = append(times, k.before)
	}
	slices.Sort(times)
	keep := max(int(n.retention*7/8), 1) // the newest 7/8 of the retention
	cut := times[len(times)-keep]
	for s, k := range n.subjects {
		if k.before < cut {
			delete(n.subjects, s)
		}
	}
}
