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
	// MaxWorkers bounds the workers at once, not counting the goroutines
	// handed to tasks over their budget. Default: 1024, and never below
	// MinWorkers.
	MaxWorkers int
	// Watchdog is how often the watchdog looks at the pool while a task
	// runs, work is queued or the pool is above its minimum; it sleeps
	// otherwise. A task's budget is one to two looks. Default: 10ms.
	Watchdog time.Duration
	// IdleTimeout is how long a worker above the minimum may wait for
	// work before it exits. Default: 2s.
	IdleTimeout time.Duration
	// NoHandOff keeps a task that runs past its budget on its worker: a
	// task that blocks then holds one of the pool's workers for as long
	// as it blocks. For tests that need a worker held.
	NoHandOff bool
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
	Workers    int    // worker goroutines now, not counting those handed off
	Busy       int    // of those, running a task
	QueuedHigh int    // tasks waiting at High
	QueuedLow  int    // tasks waiting at Low
	Completed  uint64 // tasks run to completion
	Started    uint64 // workers ever started
	HandedOff  uint64 // workers handed to a task over its budget
	Handed     int    // of those, still running their task
	Retired    uint64 // workers that exited after IdleTimeout
	Peak       int    // most workers at once (not counting those handed off)
}

// Pool runs queued tasks on a set of worker goroutines. It starts workers
// on demand up to MinWorkers and keeps them; a worker above the minimum
// exits after IdleTimeout without work. High work is taken before Low
// work, except that Low work never waits behind more than 16 High tasks.
//
// A task has a budget: when the watchdog finds a worker on the same task
// at two looks in a row (one to two Watchdog intervals), it hands the
// worker to that task: the worker's goroutine finishes the task, then
// exits, and the pool starts another worker in its place — two when the
// look was on time and work is queued, so that many tasks blocking at once
// are all handed off within a few looks. A task that blocks (a database
// call, a write to a peer that does not read) thus costs a goroutine of its
// own while it blocks, as in a goroutine-per-connection server, and other
// work never waits behind it for longer than its budget. The check costs
// nothing per task: the watchdog compares a count of the tasks each worker
// has taken, kept under the lock the worker takes anyway.
//
// A Pool is safe for concurrent use. Tasks must not panic (as in any
// goroutine, a panic ends the program) and must not call Close.
type Pool struct {
	cfg PoolConfig

	mu       sync.Mutex
	queue    [2]ring
	idle     []*worker // parked workers, most recently parked last
	list     []*worker // every worker not handed off (worker.idx)
	workers  int
	busy     int
	highRun  int
	closed   bool
	wdActive bool
	stats    PoolStats // counters only; the rest is filled in by Stats
	looks    uint64    // watchdog looks, for tests
	lastLook time.Time // when the watchdog last looked

	kick   chan struct{}
	quit   chan struct{}
	wdDone chan struct{}
	wg     sync.WaitGroup
}

type worker struct {
	ch        chan task // capacity 1: the next task, or the zero task to exit
	idleSince time.Time
	idx       int    // in Pool.list; -1 once handed off
	busy      bool   // running a task
	seq       uint64 // tasks taken
	seen      uint64 // seq at the watchdog's last look while busy
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

// Submit queues fn at priority pri. It never blocks; it returns [ErrClosed]
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
	p.watchLocked()
	// Work is queued only while no worker is idle, so an idle worker
	// means an empty queue: hand the task over directly.
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.busy++
		w.busy = true
		w.seq++
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
	p.mu.Unlock()
	return nil
}

// watchLocked wakes the watchdog if it sleeps: a task is about to run or
// wait.
func (p *Pool) watchLocked() {
	if !p.wdActive {
		p.wdActive = true
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

func (p *Pool) spawnLocked(t task) {
	p.workers++
	p.busy++
	p.stats.Started++
	if p.workers > p.stats.Peak {
		p.stats.Peak = p.workers
	}
	w := &worker{ch: make(chan task, 1), idx: len(p.list), busy: true, seq: 1}
	p.list = append(p.list, w)
	p.wg.Add(1)
	go p.work(w, t)
}

// unlistLocked takes w out of p.list.
func (p *Pool) unlistLocked(w *worker) {
	last := len(p.list) - 1
	if i := w.idx; i != last {
		p.list[i] = p.list[last]
		p.list[i].idx = i
	}
	p.list[last] = nil
	p.list = p.list[:last]
	w.idx = -1
}

func (p *Pool) work(w *worker, t task) {
	defer p.wg.Done()
	for ok := true; ok; t, ok = p.next(w) {
		t.run()
	}
}

// next records the completion of a task and returns the worker's next
// one, parking the worker until there is one. It reports false when the
// worker is to exit: after Close, after IdleTimeout above the minimum, or
// when the worker was handed to the task it just finished.
func (p *Pool) next(w *worker) (task, bool) {
	p.mu.Lock()
	p.stats.Completed++
	if w.idx < 0 { // handed off: its place in the pool is taken
		p.stats.Handed--
		p.mu.Unlock()
		return task{}, false
	}
	if t, ok := p.popLocked(); ok {
		w.seq++
		p.mu.Unlock()
		return t, true
	}
	p.busy--
	w.busy = false
	if p.closed {
		p.workers--
		p.unlistLocked(w)
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
		p.lastLook = time.Now()
		p.mu.Unlock()
		tick.Reset(p.cfg.Watchdog)
		for active := true; active; {
			select {
			case <-tick.C:
			case <-p.quit:
				tick.Stop()
				return
			}
			active = p.check()
		}
		tick.Stop()
	}
}

// check is one look of the watchdog. It hands each worker found on the
// same task as at the look before to that task, and starts workers in
// their place for the queued work: as many as were handed off, twice as
// many when the look is on time (a late look means the process itself
// was short of CPU, and tasks ran long for that), and up to the minimum.
// It retires workers above the minimum that have idled for IdleTimeout,
// and reports whether the watchdog should keep looking.
func (p *Pool) check() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.looks++
	if p.closed {
		return false
	}
	now := time.Now()
	late := now.Sub(p.lastLook) > 2*p.cfg.Watchdog
	p.lastLook = now
	handed := 0
	for i := 0; i < len(p.list); {
		w := p.list[i]
		if !w.busy {
			i++
			continue
		}
		if w.seq != w.seen || p.cfg.NoHandOff {
			w.seen = w.seq
			i++
			continue
		}
		p.unlistLocked(w) // moves the last worker to i
		p.workers--
		p.busy--
		p.stats.HandedOff++
		p.stats.Handed++
		handed++
	}
	want := p.cfg.MinWorkers - p.workers
	if !late {
		handed *= 2
	}
	want = max(want, handed)
	queued := p.queue[High].n + p.queue[Low].n
	for ; want > 0 && queued > 0 && p.workers < p.cfg.MaxWorkers; want-- {
		t, _ := p.popLocked()
		p.spawnLocked(t)
		queued--
	}
	for p.workers > p.cfg.MinWorkers && len(p.idle) > 0 && now.Sub(p.idle[0].idleSince) >= p.cfg.IdleTimeout {
		w := p.idle[0]
		copy(p.idle, p.idle[1:])
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		p.workers--
		p.unlistLocked(w)
		p.stats.Retired++
		w.ch <- task{} // parked, and the channel has room: never blocks
	}
	if queued == 0 && p.busy == 0 && p.workers <= p.cfg.MinWorkers {
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
// still run, and Close returns once every worker (handed off or not) and
// the watchdog have exited. It waits for running tasks, so a task blocked
// for good blocks Close; it must not be called from a task. Calling it
// again waits the same way.
func (p *Pool) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for _, w := range p.idle {
			p.workers--
			p.unlistLocked(w)
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
