package lifecycle

import "time"

// Timer is a connection-scoped time.AfterFunc: it never fires once closing
// has started, and all of a Conn's timers are stopped when it does. Reset
// re-arms it without allocating.
type Timer struct {
	c *Conn
	t *time.Timer // nil when made after closing started
	f func()
}

// AfterFunc calls f in its own goroutine after d, unless the connection has
// started closing by then. It starts no goroutine until it fires.
func (c *Conn) AfterFunc(d time.Duration, f func()) *Timer {
	t := &Timer{c: c, f: f}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.decision.Load() != nil {
		return t
	}
	t.t = time.AfterFunc(d, t.fire)
	c.timers = append(c.timers, t)
	return t
}

func (t *Timer) fire() {
	if t.c.decision.Load() == nil {
		t.f()
	}
}

// Reset re-arms the timer to fire after d. It reports false, and does
// nothing, once the connection is closing.
func (t *Timer) Reset(d time.Duration) bool {
	if t.t == nil || t.c.decision.Load() != nil {
		return false
	}
	t.t.Reset(d)
	return true
}

// Stop stops the timer; it reports whether that prevented a call.
func (t *Timer) Stop() bool {
	if t.t == nil {
		return false
	}
	return t.t.Stop()
}

func (c *Conn) stopTimers() {
	c.mu.Lock()
	timers := c.timers
	c.timers = nil
	c.mu.Unlock()
	for _, t := range timers {
		t.t.Stop()
	}
}
