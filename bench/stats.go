package bench

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stats is a snapshot of the server process, taken inside it.
type Stats struct {
	CPU        time.Duration // user + system CPU time of the whole process
	RSS        int64         // resident set size, bytes (VmRSS)
	Heap       int64         // bytes of live and not yet swept heap objects (HeapAlloc)
	Spans      int64         // bytes of in-use heap spans (HeapInuse): Heap plus the free slots of partly used spans
	Stacks     int64         // bytes of goroutine stacks (StackInuse)
	Goroutines int64
	Mallocs    uint64 // heap allocations so far
	AllocBytes uint64 // bytes allocated so far
	Objects    int64  // live and not yet swept heap objects (HeapObjects)
	OtherSys   int64  // runtime memory outside the heap not counted elsewhere (OtherSys: the network poller's descriptors among others)
	MSpan      int64  // bytes of the heap's span structures in use (MSpanInuse)
	GCSys      int64  // bytes of the collector's metadata (GCSys)
	Sys        int64  // bytes obtained from the OS in all (Sys)
	NumGC      int64  // completed GC cycles so far, forced ones included
	Opened     int64  // connections upgraded
	Closed     int64  // connections whose handler finished
	Clean      int64  // of those, ended by our 1001 with a complete handshake (wsmw rows)
	Workers    int64  `json:",omitempty"` // goroutines of the event loop's pools, handed-off ones included (Child.Census only)
}

// countGoroutines returns how many of the process's goroutines have sub in
// their stack.
func countGoroutines(sub string) int64 {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var count int64
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, sub) {
			count++
		}
	}
	return count
}

// TakeStats reads the process's figures and s's counters (s may be nil).
func TakeStats(s *Server) Stats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st := Stats{
		CPU:        processCPU(),
		RSS:        residentBytes(),
		Heap:       int64(ms.HeapAlloc),
		Spans:      int64(ms.HeapInuse),
		Stacks:     int64(ms.StackInuse),
		Goroutines: int64(runtime.NumGoroutine()),
		Mallocs:    ms.Mallocs,
		AllocBytes: ms.TotalAlloc,
		Objects:    int64(ms.HeapObjects),
		OtherSys:   int64(ms.OtherSys),
		MSpan:      int64(ms.MSpanInuse),
		GCSys:      int64(ms.GCSys),
		Sys:        int64(ms.Sys),
		NumGC:      int64(ms.NumGC),
	}
	if s != nil {
		st.Opened, st.Closed, st.Clean = s.Counts()
	}
	return st
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// residentBytes returns VmRSS from /proc/self/status, 0 where there is none.
func residentBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			fields := bytes.Fields(rest)
			if len(fields) == 0 {
				return 0
			}
			kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
