package lifecycle

import (
	"hash/maphash"
	"log/slog"
	"sync/atomic"
	"time"
)

// connSettings are what a connection shares with the others of its
// endpoint: its logger, close timeout, read limit, write timeout and frame
// budgets. A Conn points to a shared, immutable record (the frame guard
// holds the pointer, since it reads the write timeout and the budgets);
// a policy that changes one of them (setReadLimit) points the Conn to
// another record (setSettings). Records are shared through a small cache: the
// connections of one endpoint, which its policies configure alike, end up
// on the same few.
type connSettings struct {
	log          *slog.Logger
	closeTimeout time.Duration
	readLimit    int64 // negative for none
	writeTimeout time.Duration
	limits       *FrameLimits // nil for the defaults
}

// settingsCache holds the records most recently shared, by hash.
var (
	settingsCache [16]atomic.Pointer[connSettings]
	settingsSeed  = maphash.MakeSeed()
)

// shareSettings returns a shared record equal to s: one from the cache,
// or a new one that the cache keeps.
func shareSettings(s connSettings) *connSettings {
	slot := &settingsCache[maphash.Comparable(settingsSeed, s)%uint64(len(settingsCache))]
	if p := slot.Load(); p != nil && *p == s {
		return p
	}
	p := new(connSettings)
	*p = s
	slot.Store(p)
	return p
}

// settings returns c's settings.
func (c *Conn) settings() *connSettings { return c.guard.set.Load() }

// setSettings points c to a shared record equal to s.
func (c *Conn) setSettings(s connSettings) { c.guard.set.Store(shareSettings(s)) }
