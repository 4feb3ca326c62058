package lifecycle

import (
	"sync"

	"github.com/wsmw/wsmw/internal/evpoll"
)

// eventLoop is the process's event mode: one epoll instance, the pool of
// workers that read connections and call their message functions, a pool
// of its own for the connections' timers (a heartbeat's ping never waits
// behind a message function), the shared runtime timer, and the table from
// ids to connections.
//
// The process has one while it has event-mode connections: the first
// starts it, and it stops when the last leaves, so a process (or a test)
// with none holds none of its goroutines.
//
// Both pools hand a worker to a task that runs past its budget (one to two
// looks of its watchdog, 10 to 20 ms; see evpoll.Pool) and start another in
// its place: a message function that blocks keeps serving its own
// connection from a goroutine of its own until it returns, and the other
// connections never wait behind it for longer than that budget.
type eventLoop struct {
	poller *evpoll.Poller
	reads  *evpoll.Pool // wake-ups: reads and message functions
	timers *evpoll.Pool // the connections' timers
	conns  int          // registered connections; guarded by loopMu
	wakes  wakeHeap     // the connections' wake-ups, on one runtime timer

	mu    sync.Mutex
	slots []*eventConn // by id's low 32 bits
	gens  []uint32     // each slot's generation: the id's high 32 bits
	free  []uint32     // free slots
}

var (
	loopMu      sync.Mutex
	currentLoop *eventLoop
)

// joinLoop returns the running event loop, starting one if there is none,
// and counts a connection on it; it reports [evpoll.ErrUnsupported] where
// epoll is not available.
func joinLoop() (*eventLoop, error) {
	loopMu.Lock()
	defer loopMu.Unlock()
	if currentLoop == nil {
		l := &eventLoop{reads: evpoll.NewPool(evpoll.PoolConfig{})}
		p, err := evpoll.New(l.wake, evpoll.WithEdgeTriggered(), evpoll.WithPool(l.reads))
		if err != nil {
			l.reads.Close()
			return nil, err
		}
		l.poller = p
		l.timers = evpoll.NewPool(evpoll.PoolConfig{})
		l.wakes.run = l.runTimers
		currentLoop = l
	}
	currentLoop.conns++
	return currentLoop, nil
}

// leave uncounts a connection; the last one stops the loop. Closing the
// pools waits for their workers, and this may run on one of them, so it
// closes from a goroutine of its own.
func (l *eventLoop) leave() {
	loopMu.Lock()
	defer loopMu.Unlock()
	if l.conns--; l.conns == 0 {
		if currentLoop == l {
			currentLoop = nil
		}
		l.wakes.stop()
		go func() {
			l.poller.Close()
			l.reads.Close()
			l.timers.Close()
		}()
	}
}

// runTimers runs c's timers on the timer pool (see wakeHeap), whose
// workers' stacks have grown already; in a goroutine of its own when the
// pool is closed.
func (l *eventLoop) runTimers(c *Conn) {
	if ec := c.events.Load(); ec == nil || l.timers.SubmitID(evpoll.High, l.runTimersOf, ec.id) != nil {
		go c.runTimers()
	}
}

func (l *eventLoop) runTimersOf(id uint64, _ evpoll.Events) {
	if ec := l.lookup(id); ec != nil {
		ec.conn.runTimers()
	}
}

// serveOn has a worker of the read pool serve c, which is c's server
// already (see enterServe); it ends c when the loop is closed.
func (l *eventLoop) serveOn(c *Conn) {
	if l.reads.Submit(evpoll.High, c.serve) != nil {
		c.kill(errLoopClosed)
	}
}

// wake is the poller's handler: new bytes arrived on a connection (or it
// hung up), or room to write came. One worker at a time serves a
// connection; a wake-up for one that is being served tells its server to
// read again (the registration is edge-triggered: no wake-up comes for
// bytes that were there already). Room to write, and bytes for a
// connection the loop does not serve (before serveEvents, in its
// goroutine fallback, while it lingers), go to whoever waits on the socket.
func (l *eventLoop) wake(id uint64, ev evpoll.Events) {
	ec := l.lookup(id)
	if ec == nil {
		return
	}
	if ev&(evpoll.Writable|evpoll.Hangup|evpoll.Error) != 0 {
		ec.ready(true) // a waiting write tries again: it succeeds, or fails on the error
		if ev == evpoll.Writable {
			return
		}
	}
	c := ec.conn
	if c.events.Load() == nil {
		c.flags.Or(flagReadable) // before looking again: registerEvents stores, then reads the flag
		if c.events.Load() == nil {
			ec.ready(false)
			return
		}
	}
	if c.hasFlag(flagLeftEvents) {
		ec.ready(false)
		return
	}
	if c.state() >= stateFinishing || !c.enterServe() {
		return
	}
	c.serve()
}

// add gives ec an id that is never reused for another connection.
func (l *eventLoop) add(ec *eventConn) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var i uint32
	if n := len(l.free); n > 0 {
		i = l.free[n-1]
		l.free = l.free[:n-1]
		l.slots[i] = ec
	} else {
		i = uint32(len(l.slots))
		l.slots = append(l.slots, ec)
		l.gens = append(l.gens, 0)
	}
	return uint64(l.gens[i])<<32 | uint64(i)
}

func (l *eventLoop) lookup(id uint64) *eventConn {
	i, gen := uint32(id), uint32(id>>32)
	l.mu.Lock()
	defer l.mu.Unlock()
	if int(i) >= len(l.slots) || l.gens[i] != gen {
		return nil
	}
	return l.slots[i]
}

func (l *eventLoop) drop(id uint64) {
	i, gen := uint32(id), uint32(id>>32)
	l.mu.Lock()
	defer l.mu.Unlock()
	if int(i) < len(l.slots) && l.gens[i] == gen {
		l.slots[i] = nil
		l.gens[i]++
		l.free = append(l.free, i)
	}
}
