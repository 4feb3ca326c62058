package lifecycle

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Timer is a connection-scoped [time.AfterFunc] (see [Conn.StartTimer]): it never fires once closing has
// started, and all of a Conn's timers stop when it does. All the timers of
// one Conn share a single runtime timer armed for the earliest deadline, so
// a policy's timer costs a few words, and Reset to a later deadline than
// the earliest one touches no runtime timer at all.
type Timer struct {
	c    *Conn
	f    func()
	when time.Duration // deadline, measured from c.openedAt; 0 when stopped
	next *Timer        // in c's list of timers
}

// StartTimer calls f after d, unless the connection has started closing by
// then: a connection-scoped [time.AfterFunc]. It starts no goroutine until it
// fires; the timers of a Conn that are due together run one after another,
// in deadline order, in one goroutine of the shared runtime timer, so f
// should not block for long. The Timer is the caller's, usually a field of
// a policy's per-connection state (no allocation per connection); the zero
// Timer is ready, a Timer belongs to one Conn, and starting it again
// replaces f and the deadline.
func (c *Conn) StartTimer(t *Timer, d time.Duration, f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.c != nil && t.c != c {
		panic("wsmw: a Timer started on another connection")
	}
	listed := t.c != nil // a started Timer stays in the list until closing
	t.c, t.f = c, f
	if c.closingStarted() {
		return
	}
	t.when = c.deadlineAfter(d)
	if !listed {
		t.next, c.timers = c.timers, t
	}
	c.armLocked()
}

// Reset re-arms the timer to fire after d. It reports false, and does
// nothing, once the connection is closing.
func (t *Timer) Reset(d time.Duration) bool {
	c := t.c
	if c == nil {
		return false // never started
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closingStarted() {
		return false
	}
	t.when = c.deadlineAfter(d)
	c.armLocked()
	return true
}

// Stop stops the timer; it reports whether that prevented a call.
func (t *Timer) Stop() bool {
	c := t.c
	if c == nil {
		return false // never started
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	active := t.when != 0
	t.when = 0 // the shared timer, if armed for it, wakes and finds nothing due
	return active
}

func (c *Conn) sinceOpen() time.Duration { return time.Since(epoch) - c.openedAt }

// deadlineAfter returns the timer deadline d from now, measured from the
// open: at least 1 (0 means stopped), and saturated rather than wrapped
// for a d so large (a token that expires in the year 9999) that the sum
// overflows.
func (c *Conn) deadlineAfter(d time.Duration) time.Duration {
	now := c.sinceOpen()
	if d > math.MaxInt64-now {
		return math.MaxInt64
	}
	return max(now+d, 1)
}

// armLocked arms the shared runtime timer for the earliest deadline, unless
// it is armed for exactly that already. c.mu is held.
func (c *Conn) armLocked() {
	var earliest time.Duration
	for t := c.timers; t != nil; t = t.next {
		if t.when != 0 && (earliest == 0 || t.when < earliest) {
			earliest = t.when
		}
	}
	if earliest == 0 || earliest == c.armedFor {
		return
	}
	c.armedFor = earliest
	c.wakeLocked()
}

// wakeLocked has runTimers run at c.armedFor: on the event loop's shared
// timer in event mode, else on c's own runtime timer; not before
// serveEvents decides which, for a Conn made for it (config.Events).
// c.mu is held.
func (c *Conn) wakeLocked() {
	switch d := c.armedFor - c.sinceOpen(); {
	case c.hasFlag(flagWakeDeferred):
	case c.wakeHeapLocked() != nil:
		c.wakeHeapLocked().set(c, c.openedAt+c.armedFor)
	case c.wake == nil:
		c.wake = time.AfterFunc(d, c.runTimers)
	default:
		c.wake.Reset(d)
	}
}

// startWakeLocked ends the wait of a Conn made for serveEvents, which now
// knows how c is served, and arms what its timers want. c.mu is held.
func (c *Conn) startWakeLocked() {
	if c.flags.And(^uint32(flagWakeDeferred))&flagWakeDeferred != 0 && c.armedFor != 0 {
		c.wakeLocked()
	}
}

// wakeHeapLocked returns the event loop's shared timer while c is served
// by it, else nil. c.mu is held.
func (c *Conn) wakeHeapLocked() *wakeHeap {
	if ec := c.events.Load(); ec != nil && !c.hasFlag(flagLeftEvents) {
		return &ec.loop.wakes
	}
	return nil
}

// runTimers runs on the shared runtime timer: it calls every timer that is
// due, in deadline order, and re-arms for the next.
func (c *Conn) runTimers() {
	c.mu.Lock()
	if c.closingStarted() {
		// Closing: the policies' timers are stopped; what may be armed
		// is an event-mode close handshake's bound (armHandshake).
		due := c.armedFor != 0 && c.sinceOpen() >= c.armedFor
		c.mu.Unlock()
		if due {
			c.kill(errHandshakeTimeout)
		}
		return
	}
	c.armedFor = 0
	now := c.sinceOpen()
	var dueBuf [4]*Timer // a full policy stack arms four
	due := dueBuf[:0]
	for t := c.timers; t != nil; t = t.next {
		if t.when != 0 && t.when <= now {
			due = append(due, t)
		}
	}
	slices.SortFunc(due, func(a, b *Timer) int { return cmp.Compare(a.when, b.when) })
	var callBuf [4]func()
	calls := callBuf[:0]
	for _, t := range due {
		t.when = 0
		calls = append(calls, t.f) // read under c.mu: StartTimer may replace it meanwhile
	}
	c.armLocked()
	c.mu.Unlock()
	for _, f := range calls {
		if c.closingStarted() {
			return
		}
		f()
	}
}

// stopTimersLocked stops the policies' timers for good. c.mu is held.
func (c *Conn) stopTimersLocked() {
	for t := c.timers; t != nil; t = t.next {
		t.when = 0
	}
	c.timers = nil
	c.armedFor = 0
	if w := c.wakeHeapLocked(); w != nil {
		w.remove(c)
	}
	if c.wake != nil {
		c.wake.Stop()
	}
}

// armHandshake bounds an event-mode close handshake, on the shared runtime
// timer: nothing blocks in a read there for a read deadline to end it.
// Closing has started.
func (c *Conn) armHandshake(deadline time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armedFor = max(c.sinceOpen()+max(time.Until(deadline), 0), 1)
	c.wakeLocked()
}
