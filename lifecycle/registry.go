package lifecycle

import (
	"context"
	"errors"
	"net"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Registry is the set of live connections: it counts and ranges over them,
// closes them by predicate or by subject, revokes subjects, and shuts them
// all down gracefully. The zero value is not usable; call [NewRegistry].
type Registry struct {
	mu          sync.Mutex
	conns       []*Conn          // each at its regIdx-1
	bySubject   map[string]*Conn // the first of the subject's list (subjectLink.next)
	pending     map[*ticket]struct{}
	draining    bool
	live        int           // reservations plus connections whose OnClose hooks have not finished
	liveDown    chan struct{} // closed when live drops, for waiters; nil when none wait
	hooking     []*Conn       // connections whose OnClose hooks run (removed, not yet ended)
	parallelism int
	spread      time.Duration
	revocations revocations
}

// RegistryOption configures a Registry.
type RegistryOption func(*Registry)

// withCloseParallelism sets how many Close frames the Registry writes at
// once when it closes many connections (Shutdown, CloseIf, Revoke). The
// default is 16 per CPU.
func withCloseParallelism(n int) RegistryOption {
	return func(r *Registry) {
		if n > 0 {
			r.parallelism = n
		}
	}
}

// NewRegistry returns an empty Registry.
func NewRegistry(opts ...RegistryOption) *Registry {
	r := &Registry{
		bySubject:   make(map[string]*Conn),
		pending:     make(map[*ticket]struct{}),
		parallelism: 16 * runtime.GOMAXPROCS(0),
		revocations: revocations{ttl: defaultRevocationTTL},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// ticket reserves a place in the Registry for a connection whose handshake
// is under way, so that Shutdown waits for it and Revoke reaches it before
// its Conn exists. Its fields are guarded by the Registry's mu.
type ticket struct {
	r       *Registry
	subject string
	at      time.Time // when the handshake started
	revoked bool
	conn    net.Conn // once hijacked: what a forced shutdown closes
}

// reserve takes a ticket for an upgrade of subject.
func (r *Registry) reserve(subject string) *ticket {
	t := &ticket{r: r, subject: subject, at: time.Now()}
	r.mu.Lock()
	r.pending[t] = struct{}{}
	r.live++
	r.mu.Unlock()
	return t
}

// hijacked records the connection of t's handshake.
func (t *ticket) hijacked(nc net.Conn) {
	t.r.mu.Lock()
	t.conn = nc
	t.r.mu.Unlock()
}

// cancel gives back the ticket of a handshake that failed.
func (r *Registry) cancel(t *ticket) {
	r.mu.Lock()
	if _, ok := r.pending[t]; ok {
		delete(r.pending, t)
		r.dropLocked()
	}
	r.mu.Unlock()
}

// admit turns t into c's registration. c is registered even when it
// returns an error ([ErrServerShutdown] while the Registry drains, or
// errRevokedDuringUpgrade), so that Shutdown waits for its close.
func (r *Registry) admit(c *Conn, t *ticket) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.pending[t]; !ok {
		return errors.New("wsmw: unknown registry ticket")
	}
	delete(r.pending, t)
	if c.state() >= stateHooking {
		r.dropLocked()
		return c.closeErr()
	}
	r.registerLocked(c)
	switch {
	case r.draining:
		return ErrServerShutdown
	case t.revoked:
		return errRevokedDuringUpgrade
	}
	return nil
}

// registerLocked adds c, whose unit of live is counted already. c.mu and
// r.mu are held.
func (r *Registry) registerLocked(c *Conn) {
	c.reg = r
	r.conns = append(r.conns, c)
	c.regIdx = int32(len(r.conns))
	r.index(c, c.subjectLocked())
}

// Registry returns the Registry that c joined (see Accept), nil when none:
// the one whose Revoke reaches c, and whose remembered revocations
// (RevokedAt) an auth policy checks c's tokens against.
func (c *Conn) registry() *Registry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reg
}

// remove runs in Conn.finish with c.mu held.
func (r *Registry) remove(c *Conn, subject string) {
	r.mu.Lock()
	if i := int(c.regIdx) - 1; i >= 0 {
		last := len(r.conns) - 1
		r.conns[i] = r.conns[last]
		r.conns[i].regIdx = int32(i + 1)
		r.conns[last] = nil
		r.conns = r.conns[:last]
		c.regIdx = 0
		if n := cap(r.conns); n > 1024 && len(r.conns) < n/4 {
			r.conns = append([]*Conn(nil), r.conns...) // give back what a peak took
		}
	}
	r.unindex(c, subject)
	r.hooking = append(r.hooking, c) // its OnClose hooks run next
	r.mu.Unlock()
}

// ended runs after c's OnClose hooks.
func (r *Registry) ended(c *Conn) {
	r.mu.Lock()
	if i := slices.Index(r.hooking, c); i >= 0 {
		r.hooking = slices.Delete(r.hooking, i, i+1)
	}
	r.dropLocked()
	r.mu.Unlock()
}

// dropLocked counts one reservation or connection less and wakes the
// waiters. r.mu is held.
func (r *Registry) dropLocked() {
	r.live--
	if r.liveDown != nil {
		close(r.liveDown)
		r.liveDown = nil
	}
}

// hookingNow returns the connections whose OnClose hooks are running.
func (r *Registry) hookingNow() []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.hooking)
}

// waitLive waits until nothing is live but the connections of exempt
// whose hooks still run, or ctx is done.
func (r *Registry) waitLive(ctx context.Context, exempt []*Conn) error {
	for {
		r.mu.Lock()
		left := r.live
		for _, c := range exempt {
			if slices.Contains(r.hooking, c) {
				left--
			}
		}
		if left <= 0 {
			r.mu.Unlock()
			return nil
		}
		if r.liveDown == nil {
			r.liveDown = make(chan struct{})
		}
		ch := r.liveDown
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// reindex runs in [Conn.SetSubject] with c.mu held.
func (r *Registry) reindex(c *Conn, old, subject string) {
	r.mu.Lock()
	r.unindex(c, old)
	c.setSubjectLocked(subject)
	r.index(c, subject)
	r.mu.Unlock()
}

// index puts c first in subject's list. The lists run through the Conns
// themselves, so a subject costs one map entry, not a set of its own.
func (r *Registry) index(c *Conn, subject string) {
	if subject == "" {
		return
	}
	head := r.bySubject[subject]
	c.subj.prev, c.subj.next = nil, head
	if head != nil {
		head.subj.prev = c
	}
	r.bySubject[subject] = c
}

// unindex takes c out of subject's list. c is indexed under subject (its
// current one) or under none.
func (r *Registry) unindex(c *Conn, subject string) {
	if subject == "" {
		return
	}
	l := c.subj
	switch {
	case l.prev != nil:
		l.prev.subj.next = l.next
	case r.bySubject[subject] != c:
		return // not indexed under subject
	case l.next != nil:
		r.bySubject[subject] = l.next
	default:
		delete(r.bySubject, subject)
	}
	if l.next != nil {
		l.next.subj.prev = l.prev
	}
	l.prev, l.next = nil, nil
}

// Len returns the number of live connections.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

// Draining reports whether Shutdown has started; upgrades are refused (503)
// from then on.
func (r *Registry) isDraining() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.draining
}

// Range calls fn for each live connection until fn returns false. It works
// on a snapshot, so fn may close connections.
func (r *Registry) Range(fn func(*Conn) bool) {
	for _, c := range r.snapshot() {
		if !fn(c) {
			return
		}
	}
}

// Subject returns the live connections of subject.
func (r *Registry) subjectConns(subject string) []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Conn
	for c := r.bySubject[subject]; c != nil; c = c.next() {
		out = append(out, c)
	}
	return out
}

// CloseIf closes, with code and reason and cause, every live connection for
// which pred returns true, and returns how many it started closing. It
// returns at once: the connections are closing (their reads and writes
// fail, their contexts are cancelled) and their Close frames are written in
// the background, at most withCloseParallelism at a time, each bounded by
// its connection's close timeout.
func (r *Registry) CloseIf(pred func(*Conn) bool, cause error, code StatusCode, reason string) int {
	var picked []*Conn
	for _, c := range r.snapshot() {
		if pred(c) {
			picked = append(picked, c)
		}
	}
	return r.closeAll(picked, cause, code, reason, time.Time{})
}

// CloseSubject closes every live connection of subject with code, reason
// and cause, and returns how many it started closing; like CloseIf, it
// does not wait for the Close frames.
func (r *Registry) CloseSubject(subject string, cause error, code StatusCode, reason string) int {
	return r.closeAll(r.subjectConns(subject), cause, code, reason, time.Time{})
}

func (r *Registry) snapshot() []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.conns)
}

// closeAll decides a local close for each of conns now and writes their
// Close frames in the background; it returns how many it decided. limit,
// when set, bounds every frame and handshake.
func (r *Registry) closeAll(conns []*Conn, cause error, code StatusCode, reason string, limit time.Time) int {
	reqs := r.decideAll(conns, cause, code, reason)
	if len(reqs) > 0 {
		go r.carryOutAll(reqs, limit)
	}
	return len(reqs)
}

type pendingClose struct {
	c *Conn
	d *decision
}

func (r *Registry) decideAll(conns []*Conn, cause error, code StatusCode, reason string) []pendingClose {
	var reqs []pendingClose
	for _, c := range conns {
		if c.closingStarted() {
			continue // lost already: no decision to build
		}
		if d := localDecision(cause, code, reason); c.decide(d) {
			reqs = append(reqs, pendingClose{c, d})
		}
	}
	return reqs
}

// carryOutAll writes the Close frames of decided closes with at most
// r.parallelism writes at once. A connection whose writer is busy (a data
// write in progress, possibly stuck on a peer that does not read) gets a
// goroutine of its own, so that it holds no worker while it waits for the
// write lock; everything is bounded by limit or the close timeout.
func (r *Registry) carryOutAll(reqs []pendingClose, limit time.Time) {
	next := make(chan pendingClose)
	var wg sync.WaitGroup
	for range min(r.parallelism, len(reqs)) {
		wg.Go(func() {
			for p := range next {
				if !p.c.writeMu.TryLock() {
					go func() {
						if p.c.carryOut(p.d, limit) {
							p.c.drain()
						}
					}()
					continue
				}
				drain := p.c.carryOut(p.d, limit)
				p.c.writeMu.Unlock()
				if drain {
					go p.c.drain()
				}
			}
		})
	}
	for _, p := range reqs {
		next <- p
	}
	close(next)
	wg.Wait()
}
