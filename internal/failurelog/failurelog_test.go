package failurelog_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsmw/wsmw/internal/failurelog"
)

// The first failure is logged at once; the ones within Every after it are
// counted, not logged; the next line, Every later, stands for them all.
func TestDueOncePerEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f failurelog.Log
		if n, ok := f.Due(); !ok || n != 1 {
			t.Fatalf("first failure: Due() = %d, %v; want 1, true", n, ok)
		}
		for i := range 5 {
			time.Sleep(failurelog.Every / 10) // fake time: moves the clock
			if _, ok := f.Due(); ok {
				t.Fatalf("due %v after the last line, within Every", time.Duration(i+1)*failurelog.Every/10)
			}
		}
		time.Sleep(failurelog.Every)
		if n, ok := f.Due(); !ok || n != 6 {
			t.Fatalf("after Every: Due() = %d, %v; want 6 (5 held back and this one), true", n, ok)
		}
		if _, ok := f.Due(); ok {
			t.Fatal("due again at once after a line")
		}
	})
}

// Failures from many goroutines at once give one line, and every failure
// is counted by exactly one line.
func TestDueConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f failurelog.Log
		var mu sync.Mutex
		lines, total := 0, int64(0)
		fail := func() {
			if n, ok := f.Due(); ok {
				mu.Lock()
				lines++
				total += n
				mu.Unlock()
			}
		}
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(fail)
		}
		wg.Wait()
		if lines != 1 {
			t.Fatalf("%d lines for 64 failures at once, want 1", lines)
		}
		time.Sleep(failurelog.Every)
		fail()
		if lines != 2 || total != 65 {
			t.Fatalf("%d lines standing for %d failures, want 2 for 65", lines, total)
		}
	})
}
