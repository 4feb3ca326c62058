package lifecycle

import (
	"sync"
	"time"
)

// wakeHeap runs the timers of many Conns on one runtime timer: the event
// loop's connections, which hold no goroutine and so should not hold a
// runtime timer each either (a time.Timer is about 112 bytes). It is a
// binary heap of the Conns whose timers are armed, by the deadline each is
// armed for (Conn.armedFor), and one [time.AfterFunc] for the earliest; when
// it fires, each Conn that is due runs its timers on the event loop's
// timer pool (run), whose workers' stacks have grown already (a fresh
// goroutine per firing would grow its stack through the ping's write every
// time), and which no message function can hold.
type wakeHeap struct {
	mu   sync.Mutex
	h    []wakeEntry
	rt   *time.Timer
	rtAt time.Duration // the deadline rt is armed for, since epoch; 0 when not armed

	// run runs a due Conn's timers; nil means in a goroutine of its own.
	run func(*Conn)
}

type wakeEntry struct {
	at time.Duration // since epoch
	c  *Conn
}

// set arms c's wake-up for at (since epoch), replacing the one it has.
// c.mu is held.
func (w *wakeHeap) set(c *Conn, at time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := c.wakeIdx - 1; i >= 0 {
		old := w.h[i].at
		w.h[i].at = at
		if at < old {
			w.up(int(i))
		} else {
			w.down(int(i))
		}
	} else {
		w.h = append(w.h, wakeEntry{at, c})
		c.wakeIdx = int32(len(w.h))
		w.up(len(w.h) - 1)
	}
	w.armLocked()
}

// remove takes c's wake-up out, if it has one. c.mu is held.
func (w *wakeHeap) remove(c *Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := c.wakeIdx - 1; i >= 0 {
		w.removeAt(int(i))
	}
	if len(w.h) == 0 && w.rt != nil {
		w.rt.Stop()
		w.rtAt = 0
	}
	w.armLocked()
}

// fire runs on the runtime timer: it takes out every wake-up that is due
// and starts each one's timers.
func (w *wakeHeap) fire() {
	w.mu.Lock()
	now := time.Since(epoch)
	var dueBuf [16]*Conn
	due := dueBuf[:0]
	for len(w.h) > 0 && w.h[0].at <= now {
		due = append(due, w.h[0].c)
		w.removeAt(0)
	}
	w.rtAt = 0
	w.armLocked()
	w.mu.Unlock()
	for _, c := range due {
		if w.run != nil {
			w.run(c)
		} else {
			go c.runTimers()
		}
	}
}

// armLocked arms the runtime timer for the earliest wake-up, unless it is
// armed for it already.
func (w *wakeHeap) armLocked() {
	if len(w.h) == 0 || w.h[0].at == w.rtAt {
		return
	}
	w.rtAt = w.h[0].at
	d := w.rtAt - time.Since(epoch)
	if w.rt == nil {
		w.rt = time.AfterFunc(d, w.fire)
		return
	}
	w.rt.Reset(d)
}

func (w *wakeHeap) removeAt(i int) {
	last := len(w.h) - 1
	w.h[i].c.wakeIdx = 0
	if i != last {
		w.h[i] = w.h[last]
		w.h[i].c.wakeIdx = int32(i + 1)
	}
	w.h[last] = wakeEntry{}
	w.h = w.h[:last]
	if i != last {
		w.down(i)
		w.up(i)
	}
	if c := cap(w.h); c > 1024 && len(w.h) < c/4 {
		w.h = append([]wakeEntry(nil), w.h...) // give back what a peak took
	}
}

func (w *wakeHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if w.h[p].at <= w.h[i].at {
			return
		}
		w.swap(i, p)
		i = p
	}
}

func (w *wakeHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(w.h) {
			return
		}
		m := l
		if r := l + 1; r < len(w.h) && w.h[r].at < w.h[l].at {
			m = r
		}
		if w.h[i].at <= w.h[m].at {
			return
		}
		w.swap(i, m)
		i = m
	}
}

func (w *wakeHeap) swap(i, j int) {
	w.h[i], w.h[j] = w.h[j], w.h[i]
	w.h[i].c.wakeIdx = int32(i + 1)
	w.h[j].c.wakeIdx = int32(j + 1)
}

// stop stops the runtime timer for good: the loop has no connections left.
func (w *wakeHeap) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rt != nil {
		w.rt.Stop()
	}
}
