package conformance

import (
	"sync"
	"time"
)

// journal is an append-only list written by one reader goroutine (a
// process's stdout or stderr) and awaited by tests: await wakes on every
// append instead of sleeping.
type journal[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{} // closed and replaced on every append and at the end
	ended   bool
}

func newJournal[T any]() *journal[T] {
	return &journal[T]{changed: make(chan struct{})}
}

func (j *journal[T]) add(v T) {
	j.mu.Lock()
	j.items = append(j.items, v)
	close(j.changed)
	j.changed = make(chan struct{})
	j.mu.Unlock()
}

// end marks that nothing more will be added.
func (j *journal[T]) end() {
	j.mu.Lock()
	if !j.ended {
		j.ended = true
		close(j.changed)
		j.changed = make(chan struct{})
	}
	j.mu.Unlock()
}

// snapshot returns a copy of the items so far.
func (j *journal[T]) snapshot() []T {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]T(nil), j.items...)
}

// await calls check with the items (under the journal's lock) until it
// returns true, the journal ends with check still false, or timeout
// passes. It reports whether check returned true.
func (j *journal[T]) await(timeout time.Duration, check func(items []T) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		j.mu.Lock()
		ok, ended, changed := check(j.items), j.ended, j.changed
		j.mu.Unlock()
		if ok {
			return true
		}
		if ended {
			return false
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}
