package evpoll

import (
	"errors"
	"runtime"
	"sync"
	"time"
)

// Priority orders the work queued in a Pool.
type Priority uint8

const (
	// High is for reads; a Poller queues its wake-ups at High.
	High Priority = iota
	// Low is for work that may wait behind reads, such as heartbeat pings.
	Low
)

// lowEvery bounds how long Low work can starve: after this many High tasks
// in a row taken while Low work waits, one Low task goes first.
const lowEvery = 16

// PoolConfig sizes a Pool. A zero field takes its default.
type PoolConfig struct {
	// MinWorkers is the number of workers kept once started (they start
	// on demand). Default: GOMAXPROCS.
	MinWorkers int
	// MaxWorkers bounds the workers the watchdog may add. Default: 1024,
	// and never below MinWorkers.
	MaxWorkers int
	// Watchdog is how often the watchdog looks at the pool while work is
	// queued or the pool is above its minimum; it sleeps otherwise.
	// Default: 10ms.
	Watchdog time.Duration
	// IdleTimeout is how long a worker above the minimum may wait for
	// work before it exits. Default: 2s.
	IdleTimeout time.Duration
}

func (c PoolConfig) withDefaults() PoolConfig {
	if c.MinWorkers <= 0 {
		c.MinWorkers = runtime.GOMAXPROCS(0)
	}
	if c.MaxWorkers <= 0 {
		c.MaxWorkers = 1024
	}
	if c.MaxWorkers < c.MinWorkers {
		c.MaxWorkers = c.MinWorkers
	}
	if c.Watchdog <= 0 {
		c.Watchdog = 10 * time.Millisecond
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Second
	}
	return c
}

// PoolStats is a snapshot of a Pool's counters.
type PoolStats struct {
	Workers    int    // worker goroutines now
	Busy       int    // workers running a task
	QueuedHigh int    // tasks waiting at High
	QueuedLow  int    // tasks waiting at Low
	Completed  uint64 // tasks run to completion
	Started    uint64 // workers ever started
	Grown      uint64 // of those, started by the watchdog (beyond MinWorkers)
	Retired    uint64 // workers that exited after IdleTimeout
	Peak       int    // most workers at once
}

// Pool runs queued tasks on a set of worker goroutines. It starts workers
// on demand up to MinWorkers and keeps them. Beyond that it grows by one
// worker only when its watchdog sees, over two whole Watchdog intervals,
// work queued, no task completed and every worker busy — workers blocked
// on slow connections, not a burst, nor a process short of CPU — and a
// worker above the minimum exits after IdleTimeout without work. High work is taken before Low
// work, except that Low work never waits behind more than 16 High tasks.
//
// A Pool is safe for concurrent use. Tasks must not panic (as in any
// goroutine, a panic ends the program) and must not call Close.
type Pool struct {
	cfg PoolConfig

	mu       sync.Mutex
	queue    [2]ring
	idle     []*worker // parked workers, most recently parked last
	workers  int
	busy     int
	highRun  int
	closed   bool
	wdActive bool
	stats    PoolStats // counters only; the rest is filled in by Stats
	looks    uint64    // watchdog looks, for tests
	lastLook time.Time // when the watchdog last looked
	stuck    int       // consecutive on-time looks that found the pool stuck

	kick   chan struct{}
	quit   chan struct{}
	wdDone chan struct{}
	wg     sync.WaitGroup
}

type worker struct {
	ch        chan task // capacity 1: the next task, or the zero task to exit
	idleSince time.Time
}

// task is one unit of work. A Poller's wake-ups use efn so that queuing
// one allocates nothing.
type task struct {
	fn  func()
	efn func(uint64, Events)
	id  uint64
	ev  Events
	pri Priority
}

func (t *task) valid() bool { return t.fn != nil || t.efn != nil }

func (t *task) run() {
	if t.efn != nil {
		t.efn(t.id, t.ev)
		return
	}
	t.fn()
}

var errNilTask = errors.New("evpoll: nil task")

// NewPool returns a running Pool. Its watchdog goroutine runs until Close.
func NewPool(cfg PoolConfig) *Pool {
	p := &Pool{
		cfg:    cfg.withDefaults(),
		kick:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		wdDone: make(chan struct{}),
	}
	go p.watchdog()
	return p
}

// Submit queues fn at priority pri. It never blocks; it returns ErrClosed
// once Close has begun.
func (p *Pool) Submit(pri Priority, fn func()) error {
	if fn == nil {
		return errNilTask
	}
	return p.submit(task{fn: fn, pri: pri})
}

func (p *Pool) submitEvent(fn func(uint64, Events), id uint64, ev Events) error {
	return p.submit(task{efn: fn, id: id, ev: ev, pri: High})
}

// SubmitID queues fn(id) at priority pri, like Submit, without a closure:
// nothing is allocated per task.
func (p *Pool) SubmitID(pri Priority, fn func(id uint64, ev Events), id uint64) error {
	if fn == nil {
		return errNilTask
	}
	return p.submit(task{efn: fn, id: id, pri: pri})
}

func (p *Pool) submit(t task) error {
	if t.pri > Low {
		t.pri = Low
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	// Work is queued only while no worker is idle, so an idle worker
	// means an empty queue: hand the task over directly.
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.busy++
		p.mu.Unlock()
		w.ch <- t
		return nil
	}
	if p.workers < p.cfg.MinWorkers {
		p.spawnLocked(t)
		p.mu.Unlock()
		return nil
	}
	p.queue[t.pri].push(t)
	if !p.wdActive {
		p.wdActive = true
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
	return nil
}

func (p *Pool) spawnLocked(t task) {
	p.workers++
	p.busy++
	p.stats.Started++
	if p.workers > p.stats.Peak {
		p.stats.Peak = p.workers
	}
	w := &worker{ch: make(chan task, 1)}
	p.wg.Add(1)
	go p.work(w, t)
}

func (p *Pool) work(w *worker, t task) {
	defer p.wg.Done()
	for ok := true; ok; t, ok = p.next(w) {
		t.run()
	}
}

// next records the completion of a task and returns the worker's next
// one, parking the worker until there is one. It reports false when the
// worker is to exit.
func (p *Pool) next(w *worker) (task, bool) {
	p.mu.Lock()
	p.stats.Completed++
	if t, ok := p.popLocked(); ok {
		p.mu.Unlock()
		return t, true
	}
	p.busy--
	if p.closed {
		p.workers--
		p.mu.Unlock()
		return task{}, false
	}
	w.idleSince = time.Now()
	p.idle = append(p.idle, w)
	p.mu.Unlock()
	t := <-w.ch // whoever sends has done the accounting
	return t, t.valid()
}

func (p *Pool) popLocked() (task, bool) {
	hi, lo := &p.queue[High], &p.queue[Low]
	if lo.n == 0 {
		p.highRun = 0
	}
	if hi.n > 0 && (lo.n == 0 || p.highRun < lowEvery) {
		if lo.n > 0 {
			p.highRun++
		}
		return hi.pop(), true
	}
	if lo.n > 0 {
		p.highRun = 0
		return lo.pop(), true
	}
	return task{}, false
}

func (p *Pool) watchdog() {
	defer close(p.wdDone)
	tick := time.NewTicker(time.Hour)
	tick.Stop()
	for {
		select {
		case <-p.kick:
		case <-p.quit:
			return
		}
		p.mu.Lock()
		last := p.stats.Completed
		p.lastLook, p.stuck = time.Now(), 0
		p.mu.Unlock()
		tick.Reset(p.cfg.Watchdog)
		for active := true; active; {
			select {
			case <-tick.C:
			case <-p.quit:
				tick.Stop()
				return
			}
			active = p.check(&last)
		}
		tick.Stop()
	}
}

// check is one look of the watchdog. It grows the pool by one worker when
// two looks in a row, each on time, found work queued, no task completed
// since the look before and every worker busy: workers blocked for two
// whole intervals. A late look means the process itself was short of CPU
// (no completions then say nothing about the workers) and does not count.
// It retires workers above the minimum that have idled for IdleTimeout,
// and reports whether the watchdog should keep looking.
func (p *Pool) check(last *uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.looks++
	if p.closed {
		return false
	}
	now := time.Now()
	late := now.Sub(p.lastLook) > 2*p.cfg.Watchdog
	p.lastLook = now
	queued := p.queue[High].n + p.queue[Low].n
	switch {
	case queued > 0 && p.stats.Completed == *last && len(p.idle) == 0 && p.busy == p.workers && !late:
		p.stuck++
	case late && p.stats.Completed == *last:
		// keep the count: the look says nothing either way
	default:
		p.stuck = 0
	}
	if p.stuck >= 2 && p.workers < p.cfg.MaxWorkers {
		t, _ := p.popLocked()
		p.spawnLocked(t)
		p.stats.Grown++
		p.stuck = 0
		queued--
	}
	*last = p.stats.Completed
	for p.workers > p.cfg.MinWorkers && len(p.idle) > 0 && now.Sub(p.idle[0].idleSince) >= p.cfg.IdleTimeout {
		w := p.idle[0]
		copy(p.idle, p.idle[1:])
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		p.workers--
		p.stats.Retired++
		w.ch <- task{} // parked, and the channel has room: never blocks
	}
	if queued == 0 && p.workers <= p.cfg.MinWorkers {
		p.wdActive = false
		return false
	}
	return true
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Workers = p.workers
	s.Busy = p.busy
	s.QueuedHigh = p.queue[High].n
	s.QueuedLow = p.queue[Low].n
	return s
}

// Close stops the pool: Submit fails from now on, the tasks already queued
// still run, and Close returns once every worker and the watchdog have
// exited. It waits for running tasks, so a task blocked for good blocks
// Close; it must not be called from a task. Calling it again waits the
// same way.
func (p *Pool) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for _, w := range p.idle {
			p.workers--
			w.ch <- task{}
		}
		p.idle = nil
		close(p.quit)
	}
	p.mu.Unlock()
	<-p.wdDone
	p.wg.Wait()
}

// ring is a growable FIFO of tasks.
type ring struct {
	buf  []task
	head int
	n    int
}

func (r *ring) push(t task) {
	if r.n == len(r.buf) {
		nb := make([]task, max(16, 2*len(r.buf)))
		for i := range r.n {
			nb[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = nb, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = t
	r.n++
}

func (r *ring) pop() task {
	t := r.buf[r.head]
	r.buf[r.head] = task{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	if r.n == 0 && len(r.buf) > 4096 {
		r.buf, r.head = nil, 0 // let a burst's backlog go
	}
	return t
}
