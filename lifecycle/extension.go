package lifecycle

import "time"

// This file is the small API that policies use to install what they need.
// Read checks, pong hooks, the read limit and the write timeout are set up
// before the handler starts reading (in a middleware attachment); OnClose,
// timers, values and the subject may be used at any time.

// AddReadCheck adds a check that runs on every data message, in the order
// added. Call it before the handler starts reading.
func (c *Conn) AddReadCheck(check ReadCheck) {
	l := &c.lists
	l.checks, l.nChecks = withOne(l.checkList(), check)
}

// addPongHook adds a function called with each pong's application data, inside
// the reader. Call it before the handler starts reading.
func (c *Conn) addPongHook(f func(appData string)) {
	prev := c.onPong
	if prev == nil {
		c.onPong = f
		return
	}
	c.onPong = func(appData string) {
		prev(appData)
		f(appData)
	}
}

// setReadLimit sets the largest data message accepted, in bytes
// (defaultReadLimit unless set); a larger one closes the connection with
// 1009 "message too big" (cause [ErrMessageTooBig]). Negative means no limit.
// Call it before the handler starts reading.
func (c *Conn) setReadLimit(n int64) {
	if n == 0 {
		n = defaultReadLimit
	}
	s := *c.settings()
	s.readLimit = n
	c.setSettings(s)
}

// setFrameLimits sets the budgets of control frames and fragments the peer
// may send (the Default* constants unless set); l is shared, not copied, and
// must not change afterwards. Call it before the handler starts reading.
func (c *Conn) setFrameLimits(l *FrameLimits) {
	s := *c.settings()
	s.limits = l
	c.setSettings(s)
}

// ReadLimit returns the read limit in bytes, negative for none.
func (c *Conn) readLimitOf() int64 { return c.settings().readLimit }

// setWriteTimeout bounds the write of every data frame; zero means no
// bound. A write that times out leaves the stream broken, so the
// connection is ended at once (cause [ErrWriteTimeout]). Call it before the
// handler starts writing.
func (c *Conn) setWriteTimeout(d time.Duration) {
	s := *c.settings()
	s.writeTimeout = d
	c.setSettings(s)
}

// inboundFrames counts the frames read from the peer so far: data messages,
// pings, pongs and Close. A policy compares two readings to learn whether
// anything arrived in between.
func (c *Conn) inboundFrames() uint64 { return c.inbound.Load() }

// outboundMessages counts the data messages written (or being written) so
// far. A policy compares two readings to learn whether anything was sent in
// between.
func (c *Conn) outboundMessages() uint64 { return c.outbound.Load() }

// outboundBytesSent counts the payload bytes of the data messages written (or
// being written) so far.
func (c *Conn) outboundBytesSent() uint64 { return c.outboundBytes.Load() }

// OnClose adds a hook that runs once when the connection has ended, after
// TCP is closed, in the order added. A hook added after the end runs at
// once. A panicking hook is recovered and logged; the others still run.
func (c *Conn) OnClose(hook func(*Conn, CloseInfo)) {
	c.mu.Lock()
	if c.state() < stateHooking {
		l := &c.lists
		l.hooks, l.nHooks = withOne(l.hookList(), hook)
		c.mu.Unlock()
		return
	}
	info := c.waiters.info // set by finish before it took the hooks
	c.mu.Unlock()
	c.runHook(hook, info)

}

func (c *Conn) runHook(hook func(*Conn, CloseInfo), info CloseInfo) {
	defer func() {
		if p := recover(); p != nil {
			c.settings().log.Error("wsmw: OnClose hook panicked", "panic", p)
		}
	}()
	hook(c, info)
}

// LoadOrStore returns the connection's value under key if there is one
// (loaded true), and otherwise stores value and returns it: per-connection
// state for a policy, made once even when two goroutines race for it. key
// must be comparable and should be of an unexported type. The connection's
// context ([Conn.Context]) answers with these values too.
func (c *Conn) LoadOrStore(key, value any) (actual any, loaded bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := &c.lists
	for _, kv := range l.valueList() {
		if kv.key == key {
			return kv.value, true
		}
	}
	l.values, l.nValues = withOne(l.valueList(), keyValue{key, value})
	return value, false
}

// swapValue replaces the value stored under key by new if it is old, and
// returns the value stored under key afterwards (new when it swapped): a
// policy's state made on first use in place of what the upgrade stored
// (the send queue in place of its settings).
func (c *Conn) swapValue(key, old, new any) (actual any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	values := c.lists.valueList()
	for i := range values {
		if values[i].key == key {
			if values[i].value == old {
				values[i].value = new
			}
			return values[i].value
		}
	}
	return nil
}

// Value returns the value stored under key, or nil.
func (c *Conn) Value(key any) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, kv := range c.lists.valueList() {
		if kv.key == key {
			return kv.value
		}
	}
	return nil
}

// SetSubject names who the connection belongs to (a JWT subject, a user
// ID). The Registry indexes connections by subject for CloseSubject and
// Revoke.
//
// When policies have added subject checks (addSubjectCheck), SetSubject
// consults them first, in the order added, and serializes with the other
// SetSubject calls of c while they run: a check that refuses makes
// SetSubject return its error and leaves the subject as it was (the checks
// that had accepted are undone). Without checks it never fails.
func (c *Conn) SetSubject(subject string) error {
	if g := c.subjectGate(); g != nil {
		return g.set(c, subject)
	}
	c.setSubject(subject)
	return nil
}

func (c *Conn) setSubject(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.subjectLocked()
	if old == subject {
		return
	}
	if c.reg != nil && c.state() < stateHooking {
		c.reg.reindex(c, old, subject) // lock order: Conn, then Registry
		return
	}
	c.setSubjectLocked(subject)
}

// setSubjectLocked records subject; c.mu is held, and the Registry's mu
// too while c is registered.
func (c *Conn) setSubjectLocked(subject string) {
	switch {
	case subject == "":
		c.subj = nil
	case c.subj == nil:
		c.subj = &subjectLink{subject: subject}
	default:
		c.subj.subject = subject
	}
}

// Subject returns the connection's subject, "" if none was set.
func (c *Conn) Subject() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subjectLocked()
}
