package lifecycle

import (
	"errors"
	"runtime"
	"sync"
)

// ErrDraining is returned by Registry.Add once Shutdown has started.
var ErrDraining = errors.New("wsmw: registry is draining for shutdown")

// Registry is the set of live connections: it counts and ranges over them,
// closes them by predicate or by subject, and shuts them all down
// gracefully. The zero value is not usable; call NewRegistry.
type Registry struct {
	mu          sync.Mutex
	conns       map[*Conn]struct{}
	bySubject   map[string]*Conn // the first of the subject's list (Conn.subjNext)
	draining    bool
	live        sync.WaitGroup // connections whose OnClose hooks have not finished
	parallelism int
	revocations revocations
}

// RegistryOption configures a Registry.
type RegistryOption func(*Registry)

// WithCloseParallelism sets how many Close frames the Registry writes at
// once when it closes many connections (Shutdown, CloseIf). The default is
// 16 per CPU.
func WithCloseParallelism(n int) RegistryOption {
	return func(r *Registry) {
		if n > 0 {
			r.parallelism = n
		}
	}
}

// NewRegistry returns an empty Registry.
func NewRegistry(opts ...RegistryOption) *Registry {
	r := &Registry{
		conns:       make(map[*Conn]struct{}),
		bySubject:   make(map[string]*Conn),
		parallelism: 16 * runtime.GOMAXPROCS(0),
		revocations: revocations{ttl: DefaultRevocationTTL},
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Add registers c until it ends. It returns ErrDraining once Shutdown has
// started; the caller should then close c with 1001.
func (r *Registry) Add(c *Conn) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reg != nil {
		return errors.New("wsmw: connection is already registered")
	}
	if c.hooksTaken {
		return c.closeErr()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.draining {
		return ErrDraining
	}
	c.reg = r
	r.conns[c] = struct{}{}
	r.index(c, c.subject)
	r.live.Add(1)
	return nil
}

// remove runs in Conn.finish with c.mu held.
func (r *Registry) remove(c *Conn, subject string) {
	r.mu.Lock()
	delete(r.conns, c)
	r.unindex(c, subject)
	r.mu.Unlock()
}

// ended runs after c's OnClose hooks.
func (r *Registry) ended() { r.live.Done() }

// reindex runs in Conn.SetSubject with c.mu held.
func (r *Registry) reindex(c *Conn, old, subject string) {
	r.mu.Lock()
	r.unindex(c, old)
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
	c.subjPrev, c.subjNext = nil, head
	if head != nil {
		head.subjPrev = c
	}
	r.bySubject[subject] = c
}

// unindex takes c out of subject's list. c is indexed under subject (its
// current one) or under none.
func (r *Registry) unindex(c *Conn, subject string) {
	if subject == "" {
		return
	}
	switch {
	case c.subjPrev != nil:
		c.subjPrev.subjNext = c.subjNext
	case r.bySubject[subject] != c:
		return // not indexed under subject
	case c.subjNext != nil:
		r.bySubject[subject] = c.subjNext
	default:
		delete(r.bySubject, subject)
	}
	if c.subjNext != nil {
		c.subjNext.subjPrev = c.subjPrev
	}
	c.subjPrev, c.subjNext = nil, nil
}

// Len returns the number of live connections.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

// Draining reports whether Shutdown has started; upgrades are refused (503)
// from then on.
func (r *Registry) Draining() bool {
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
func (r *Registry) Subject(subject string) []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Conn
	for c := r.bySubject[subject]; c != nil; c = c.subjNext {
		out = append(out, c)
	}
	return out
}

// CloseIf closes, with code and reason and cause, every live connection for
// which pred returns true, and returns how many it started closing. It
// returns once the Close frames are written; the handshakes finish on their
// own.
func (r *Registry) CloseIf(pred func(*Conn) bool, cause error, code StatusCode, reason string) int {
	var picked []*Conn
	for _, c := range r.snapshot() {
		if pred(c) {
			picked = append(picked, c)
		}
	}
	return r.closeAll(picked, cause, code, reason)
}

// CloseSubject closes every live connection of subject with code, reason
// and cause, and returns how many it started closing.
func (r *Registry) CloseSubject(subject string, cause error, code StatusCode, reason string) int {
	return r.closeAll(r.Subject(subject), cause, code, reason)
}

func (r *Registry) snapshot() []*Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Conn, 0, len(r.conns))
	for c := range r.conns {
		out = append(out, c)
	}
	return out
}

// closeAll starts closing conns with at most r.parallelism Close frames
// being written at once.
func (r *Registry) closeAll(conns []*Conn, cause error, code StatusCode, reason string) int {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		started int
		next    = make(chan *Conn)
	)
	workers := min(r.parallelism, len(conns))
	for range workers {
		wg.Go(func() {
			n := 0
			for c := range next {
				if c.startClose(cause, code, reason) {
					n++
				}
			}
			mu.Lock()
			started += n
			mu.Unlock()
		})
	}
	for _, c := range conns {
		next <- c
	}
	close(next)
	wg.Wait()
	return started
}
