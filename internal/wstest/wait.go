package wstest

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// pollEvery is how often Eventually looks at its condition.
const pollEvery = 5 * time.Millisecond

// Eventually reports whether cond holds within d. It is for conditions
// that nothing announces (a count in Redis, a Prometheus scrape, the
// goroutines net/http retires on its own); where an event exists, wait on
// the event instead.
func Eventually(d time.Duration, cond func() bool) bool {
	if cond() {
		return true
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if cond() {
				return true
			}
		case <-deadline.C:
			return cond()
		}
	}
}

// WaitFor fails t unless cond holds within d; what names the condition.
func WaitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	if !Eventually(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// CountGoroutines returns, for each of the substrings, how many of the
// process's goroutines have it in their stack (a goroutine counts for the
// first substring it has). Counting goroutines by what they run, rather
// than against a baseline, is immune to other tests' goroutines winding
// down.
func CountGoroutines(substrings ...string) []int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	counts := make([]int, len(substrings))
	for _, g := range strings.Split(string(buf), "\n\n") {
		for i, s := range substrings {
			if strings.Contains(g, s) {
				counts[i]++
				break
			}
		}
	}
	return counts
}
