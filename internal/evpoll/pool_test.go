package evpoll

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const wait = 10 * time.Second // failure guard for anything announced

func TestPoolRunsEverything(t *testing.T) {
	p := NewPool(PoolConfig{MinWorkers: 3})
	var n atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				pri := Priority((g + i) % 2)
				if err := p.Submit(pri, func() { n.Add(1) }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	p.Close()
	if got := n.Load(); got != 4000 {
		t.Fatalf("ran %d tasks, want 4000", got)
	}
	s := p.Stats()
	if s.Workers != 0 || s.Completed != 4000 || s.Peak > 3 {
		t.Fatalf("stats after Close: %+v", s)
	}
	if err := p.Submit(High, func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v, want ErrClosed", err)
	}
	if err := p.Submit(High, nil); err == nil {
		t.Fatal("Submit(nil) succeeded")
	}
}

// gate occupies one worker until released.
func gate(t *testing.T, p *Pool) (release func()) {
	t.Helper()
	started, stop := make(chan struct{}), make(chan struct{})
	if err := p.Submit(High, func() { close(started); <-stop }); err != nil {
		t.Fatal(err)
	}
	recv(t, started, wait, "the gate task")
	var once sync.Once
	return func() { once.Do(func() { close(stop) }) }
}

func TestPoolHighBeforeLow(t *testing.T) {
	p := NewPool(PoolConfig{MinWorkers: 1, MaxWorkers: 1, NoHandOff: true})
	defer p.Close()
	release := gate(t, p)
	var order []string
	done := make(chan struct{})
	add := func(pri Priority, name string) {
		if err := p.Submit(pri, func() { order = append(order, name) }); err != nil {
			t.Fatal(err)
		}
	}
	add(Low, "ping1")
	add(High, "read1")
	add(Low, "ping2")
	add(High, "read2")
	p.Submit(Low, func() { close(done) })
	if s := p.Stats(); s.QueuedHigh != 2 || s.QueuedLow != 3 {
		t.Fatalf("queued %d high, %d low; want 2, 3", s.QueuedHigh, s.QueuedLow)
	}
	release()
	recv(t, done, wait, "the queue to drain")
	want := []string{"read1", "read2", "ping1", "ping2"}
	if len(order) != len(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

func TestPoolLowIsNotStarved(t *testing.T) {
	p := NewPool(PoolConfig{MinWorkers: 1, MaxWorkers: 1, NoHandOff: true})
	defer p.Close()
	release := gate(t, p)
	var highs, lowAt int
	done := make(chan struct{})
	p.Submit(Low, func() { lowAt = highs })
	for range 3 * lowEvery {
		p.Submit(High, func() { highs++ })
	}
	p.Submit(Low, func() { close(done) })
	release()
	recv(t, done, wait, "the queue to drain")
	if lowAt != lowEvery {
		t.Fatalf("the Low task ran after %d High tasks, want %d", lowAt, lowEvery)
	}
}

// A task that blocks is handed its worker once over its budget: the pool
// starts another worker in its place, the queued work runs while the
// blocked tasks wait, and their goroutines exit once they return. Above
// the minimum, a worker idle for IdleTimeout exits.
func TestPoolHandsBlockedTasksTheirWorkers(t *testing.T) {
	p := NewPool(PoolConfig{MinWorkers: 2, MaxWorkers: 4, Watchdog: time.Millisecond, IdleTimeout: 100 * time.Millisecond})
	defer p.Close()
	r1, r2 := gate(t, p), gate(t, p) // both minimum workers blocked, as by slow message functions
	ran := make(chan struct{}, 10)
	for range 10 {
		p.Submit(High, func() { ran <- struct{}{} })
	}
	for range 10 {
		recv(t, ran, wait, "the queued tasks while two tasks block")
	}
	if s := p.Stats(); s.HandedOff != 2 || s.Handed != 2 {
		t.Fatalf("stats while two tasks block: %+v, want both handed off", s)
	}
	r1()
	r2()
	if !eventually(wait, func() bool { return p.Stats().Handed == 0 }) {
		t.Fatalf("the handed-off goroutines did not end: %+v", p.Stats())
	}
	if !eventually(wait, func() bool { return p.Stats().Workers == 2 }) {
		t.Fatalf("pool did not shrink back to its minimum: %+v", p.Stats())
	}
}

// Many tasks that block at once are all handed off, and the pool never
// holds more than MaxWorkers workers of its own meanwhile.
func TestPoolHandsOffManyBlockedTasks(t *testing.T) {
	const n = 200
	p := NewPool(PoolConfig{MinWorkers: 2, MaxWorkers: 8, Watchdog: time.Millisecond})
	defer p.Close()
	var blocked sync.WaitGroup
	blocked.Add(n)
	stop := make(chan struct{})
	for range n {
		p.Submit(High, func() {
			blocked.Done()
			<-stop
		})
	}
	all := make(chan struct{})
	go func() { blocked.Wait(); close(all) }()
	recv(t, all, wait, "every blocking task to start")
	ran := make(chan struct{})
	p.Submit(Low, func() { close(ran) })
	recv(t, ran, wait, "a task submitted while 200 block")
	s := p.Stats()
	close(stop)
	if s.Peak > 8 || s.HandedOff < n-8 {
		t.Fatalf("stats while %d tasks block: %+v, want at most 8 workers and the blocked tasks handed off", n, s)
	}
	if !eventually(wait, func() bool { return p.Stats().Handed == 0 }) {
		t.Fatalf("the handed-off goroutines did not end: %+v", p.Stats())
	}
}

// With NoHandOff a blocked task keeps its worker, and the work queued
// behind it waits.
func TestPoolNoHandOff(t *testing.T) {
	p := NewPool(PoolConfig{MinWorkers: 1, MaxWorkers: 2, Watchdog: time.Millisecond, NoHandOff: true})
	defer p.Close()
	release := gate(t, p)
	defer release()
	ran := make(chan struct{})
	p.Submit(High, func() { close(ran) })
	looks := func() uint64 { p.mu.Lock(); defer p.mu.Unlock(); return p.looks }
	from := looks()
	if !eventually(wait, func() bool { return looks() >= from+10 }) {
		t.Fatal("the watchdog stopped looking while a task ran")
	}
	select {
	case <-ran:
		t.Fatal("the queued task ran beside a task that keeps its worker")
	default:
	}
	if s := p.Stats(); s.HandedOff != 0 || s.Workers != 1 || s.QueuedHigh != 1 {
		t.Fatalf("stats %+v, want 1 worker, nothing handed off, 1 queued", s)
	}
	release()
	recv(t, ran, wait, "the queued task once the worker is free")
}

// A burst of short tasks keeps completing: no worker is handed off and
// the pool does not grow, though work is queued and every worker is busy
// at each look.
func TestPoolDoesNotHandOffCompletingTasks(t *testing.T) {
	p := NewPool(PoolConfig{MinWorkers: 2, MaxWorkers: 64, Watchdog: 50 * time.Millisecond})
	defer p.Close()
	var wg sync.WaitGroup
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		for range 100 {
			wg.Add(1)
			p.Submit(High, func() {
				defer wg.Done()
				spin(20 * time.Microsecond)
			})
		}
		wg.Wait()
	}
	if s := p.Stats(); s.HandedOff != 0 || s.Peak != 2 {
		t.Fatalf("pool handed off or grew under completing work: %+v", s)
	}
}

func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

func TestPoolCloseRunsQueuedWork(t *testing.T) {
	p := NewPool(PoolConfig{MinWorkers: 1, MaxWorkers: 1, NoHandOff: true})
	release := gate(t, p)
	var n atomic.Int64
	for range 10 {
		p.Submit(Low, func() { n.Add(1) })
	}
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	if !eventually(wait, func() bool { return errors.Is(p.Submit(High, func() {}), ErrClosed) }) {
		t.Fatal("Submit still accepted after Close began")
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a task was running")
	default:
	}
	release()
	recv(t, closed, wait, "Close")
	if n.Load() != 10 {
		t.Fatalf("%d of 10 queued tasks ran", n.Load())
	}
	p.Close() // again: returns at once
}
