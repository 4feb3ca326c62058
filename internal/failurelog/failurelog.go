// Package failurelog throttles the log lines about a failing dependency
// (a rate-limit Store, Redis): at most one line every [Every], saying how
// many failures it stands for. ratelimit's policies and cluster's Store
// share it. It is internal: not part of the API.
package failurelog

import (
	"sync/atomic"
	"time"
)

// Every is the least time between two lines of one [Log].
const Every = 10 * time.Second

// Log throttles the log lines about one source of failures. Its zero value
// is ready to use; it is safe for concurrent use.
type Log struct {
	last  atomic.Int64 // unix nanoseconds of the last line
	count atomic.Int64 // failures since the last line
}

// Due counts a failure and reports whether to log it, with the number of
// failures the line stands for.
func (f *Log) Due() (int64, bool) {
	n := f.count.Add(1)
	now := time.Now().UnixNano()
	last := f.last.Load()
	if last != 0 && now-last < int64(Every) {
		return 0, false
	}
	if !f.last.CompareAndSwap(last, now) {
		return 0, false
	}
	f.count.Add(-n)
	return n, true
}
