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
	p := NewPool(PoolConfig{MinWorkers: 1, MaxWorkers: 1})
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
	p := NewPool(PoolConfig{MinWorkers: 1, MaxWorkers: 1})
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

func TestPoolGrowsWhenEveryWorkerIsStuck(t *testing.T) {
	p := NewPool(PoolConfig{MinWorkers: 2, MaxWorkers: 4, Watchdog: time.Millisecond, IdleTimeout: 100 * time.Millisecond})
	defer p.Close()
	r1, r2 := gate(t, p), gate(t, p) // both minimum workers blocked, as on slow connections
	ran := make(chan struct{})
	p.Submit(High, func() { close(ran) })
	recv(t, ran, wait, "a queued task while every worker is stuck")
	s := p.Stats()
	if s.Grown != 1 || s.Workers != 3 {
		t.Fatalf("after one stuck round: %+v, want one worker grown", s)
	}
	r1()
	r2()
	// Above the minimum, a worker idle for IdleTimeout exits.
	if !eventually(wait, func() bool { return p.Stats().Workers == 2 }) {
		t.Fatalf("pool did not shrink back: %+v", p.Stats())
	}
	if s := p.Stats(); s.Retired != 1 {
		t.Fatalf("retired %d, want 1: %+v", s.Retired, s)
	}
}

func TestPoolStopsGrowingAtMax(t *testing.T) {
	p := NewPool(PoolConfig{MinWorkers: 1, MaxWorkers: 2, Watchdog: time.Millisecond})
	defer p.Close()
	r1 := gate(t, p)
	r2 := gate(t, p) // runs on the one worker the watchdog adds
	defer r1()
	defer r2()
	ran := make(chan struct{})
	p.Submit(High, func() { close(ran) })
	// Let the watchdog look ten times at a queue it may not serve.
	looks := func() uint64 { p.mu.Lock(); defer p.mu.Unlock(); return p.looks }
	from := looks()
	if !eventually(wait, func() bool { return looks() >= from+10 }) {
		t.Fatal("the watchdog stopped looking while work was queued")
	}
	select {
	case <-ran:
		t.Fatal("a third worker was started beyond MaxWorkers")
	default:
	}
	if s := p.Stats(); s.Workers != 2 || s.QueuedHigh != 1 {
		t.Fatalf("stats %+v, want 2 workers and 1 queued", s)
	}
	r1()
	recv(t, ran, wait, "the queued task once a worker is free")
}

// A burst of short tasks keeps completing, so the pool must not grow even
// though work is queued and every worker is busy at each look.
func TestPoolDoesNotGrowWhileTasksComplete(t *testing.T) {
	p := NewPool(PoolConfig{MinWorkers: 2, MaxWorkers: 64, Watchdog: 20 * time.Millisecond})
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
	if s := p.Stats(); s.Grown != 0 || s.Peak != 2 {
		t.Fatalf("pool grew under completing work: %+v", s)
	}
}

func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

func TestPoolCloseRunsQueuedWork(t *testing.T) {
	p := NewPool(PoolConfig{MinWorkers: 1, MaxWorkers: 1})
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
