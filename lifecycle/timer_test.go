package lifecycle_test

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

// TestTimersShareOneRuntimeTimer drives several timers of one connection,
// re-armed earlier and later and stopped, and checks that each fires at its
// deadline, not before, in deadline order.
func TestTimersShareOneRuntimeTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, client := pipeConn(t, connx.Config{})
		start := time.Now()
		var mu sync.Mutex
		var fired []string
		at := map[string]time.Duration{}
		mark := func(name string) func() {
			return func() {
				mu.Lock()
				fired = append(fired, name)
				at[name] = time.Since(start)
				mu.Unlock()
			}
		}
		a := afterFunc(c, 10*time.Second, mark("a"))
		b := afterFunc(c, 20*time.Second, mark("b"))
		s := afterFunc(c, 5*time.Second, mark("stopped"))
		e := afterFunc(c, 30*time.Second, mark("earlier"))
		afterFunc(c, 15*time.Second, mark("same")) // never touched

		if !s.Stop() {
			t.Fatal("Stop of an armed timer reported false")
		}
		e.Reset(3 * time.Second) // earlier than every other deadline
		b.Reset(40 * time.Second)
		time.Sleep(10*time.Second - time.Nanosecond) // fake time: moves the clock
		synctest.Wait()
		mu.Lock()
		if len(fired) != 1 || fired[0] != "earlier" {
			t.Fatalf("by 10s-1ns fired %v", fired)
		}
		mu.Unlock()
		a.Reset(25 * time.Second) // from now: fires at 35s
		time.Sleep(time.Minute)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		want := []string{"earlier", "same", "a", "b"}
		if len(fired) != len(want) {
			t.Fatalf("fired %v, want %v", fired, want)
		}
		for i, name := range want {
			if fired[i] != name {
				t.Fatalf("fired %v, want %v", fired, want)
			}
		}
		wantAt := map[string]time.Duration{"earlier": 3 * time.Second, "same": 15 * time.Second, "a": 10*time.Second - time.Nanosecond + 25*time.Second, "b": 40 * time.Second}
		for name, d := range wantAt {
			if at[name] != d {
				t.Errorf("%s fired at %v, want %v", name, at[name], d)
			}
		}
		client.Close()
		connx.Abort(c, nil, 0, "")
	})
}

// TestTimerResetFromItsCallback re-arms a timer from inside its own
// callback, as a heartbeat does.
func TestTimerResetFromItsCallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, client := pipeConn(t, connx.Config{})
		var mu sync.Mutex
		ticks := 0
		var tm *lifecycle.Timer
		count := func() int {
			mu.Lock()
			defer mu.Unlock()
			return ticks
		}
		mu.Lock()
		tm = afterFunc(c, time.Second, func() {
			mu.Lock()
			defer mu.Unlock()
			ticks++
			tm.Reset(time.Second)
		})
		mu.Unlock()
		time.Sleep(10*time.Second + time.Millisecond)
		synctest.Wait()
		if n := count(); n != 10 {
			t.Fatalf("%d ticks in 10s", n)
		}
		connx.Abort(c, nil, 0, "")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := count(); n != 10 {
			t.Fatalf("ticked after the end: %d", n)
		}
		client.Close()
	})
}

// TestStartTimerOnAnEmbeddedTimer drives a Timer that lives in the caller's
// own state: started, restarted with a new function, stopped.
func TestStartTimerOnAnEmbeddedTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, client := pipeConn(t, connx.Config{})
		var state struct {
			t     lifecycle.Timer
			fired []string
		}
		if state.t.Stop() || state.t.Reset(time.Second) {
			t.Fatal("a Timer never started reports being active")
		}
		start := time.Now()
		var firedAt time.Duration
		c.StartTimer(&state.t, 10*time.Second, func() { state.fired = append(state.fired, "first") })
		c.StartTimer(&state.t, 20*time.Second, func() {
			state.fired = append(state.fired, "second")
			firedAt = time.Since(start)
		})
		time.Sleep(30 * time.Second) // moves the bubble's clock
		synctest.Wait()
		if len(state.fired) != 1 || state.fired[0] != "second" || firedAt != 20*time.Second {
			t.Fatalf("fired %v at %v, want [second] at 20s", state.fired, firedAt)
		}
		if !state.t.Reset(5*time.Second) || !state.t.Stop() {
			t.Fatal("a fired timer could not be re-armed and stopped")
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if len(state.fired) != 1 {
			t.Fatalf("a stopped timer fired: %v", state.fired)
		}
		c.Close(lifecycle.StatusNormalClosure, "")
		client.Close()
		c.Wait()
	})
}
