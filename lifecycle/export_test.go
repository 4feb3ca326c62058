package lifecycle

import "time"

// SetPartialTimeout sets partialTimeout for a test; the returned
// function restores it.
func SetPartialTimeout(d time.Duration) (restore func()) {
	old := partialTimeout
	partialTimeout = d
	return func() { partialTimeout = old }
}

// ReadBufferSize returns the size of c's read buffer (0 for none), read
// as c's server (no worker serves c meanwhile), once c is served by
// events; false while a worker serves it.
func ReadBufferSize(c *Conn) (int, bool) {
	ec := c.events.Load()
	if ec == nil || !c.enterServe() {
		return 0, false
	}
	n := ec.br.Size()
	if !c.leaveServe() {
		ec.loop.serveOn(c) // a wake-up came meanwhile
	}
	return n, true
}

// OwnsSocket reports whether the event loop owns c's socket (the
// descriptor is ours; Go's net.Conn is closed).
func OwnsSocket(c *Conn) bool { return c.ownedSocket() != nil }

// FailDup makes the upgrade's dup of the socket fail (the fallback keeps
// Go's socket); the returned function restores it.
func FailDup() (restore func()) {
	failDup = true
	return func() { failDup = false }
}
