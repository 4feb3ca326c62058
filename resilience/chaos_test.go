package resilience_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"go.uber.org/goleak"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/ratelimit"
)

// The chaos run: waves of connections, at most one wave live at a time (two
// file descriptors per connection in this process, far below the 20,000
// open-file cap), two of them shut down in the middle.
const (
	chaosWaves       = 6
	chaosWaveSize    = 2000
	chaosWarmup      = 120 // a first small wave, to take the heap baseline after
	chaosDialsAtOnce = 64
	chaosBudget      = 90 * time.Second
	// chaosHeapSlack is how far above its baseline the heap may end: a
	// leak of 1 KiB per connection would exceed it.
	chaosHeapSlack = 8 << 20
)

// TestChaos runs, in each read mode, more than 10,000 connections with
// random fates through a server with every policy on, and checks that each ended exactly once,
// with the initiator, code and cause its fate calls for, and that nothing
// leaked: goroutines, connection slots, heap. Set WSMW_CHAOS_SEED to
// replay a run.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos run skipped in -short mode")
	}
	for _, mode := range conntest.Modes {
		t.Run(mode.Name, func(t *testing.T) { runChaos(t, mode) })
	}
}

// runChaos is one chaos run, its connections served in mode.
func runChaos(t *testing.T, mode conntest.Mode) {
	start := time.Now()
	seed := chaosSeed()
	t.Logf("seed %d (WSMW_CHAOS_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1|1))
	slots := newKeyedStore()
	table := newFateTable()

	warm := runWave(t, mode, "warmup", chaosWarmup, false, rng, slots)
	checkWave(t, warm, false, table)
	heapBase := heapInUse()

	for i := range chaosWaves {
		mid := i%3 == 1
		ws := time.Now()
		recs := runWave(t, mode, "w"+strconv.Itoa(i), chaosWaveSize, mid, rng, slots)
		checkWave(t, recs, mid, table)
		t.Logf("wave %d: %d connections, shutdown in the middle: %v, %v", i, len(recs), mid, time.Since(ws).Round(time.Millisecond))
		if t.Failed() {
			break
		}
	}
	t.Logf("fates x observed server-side ends (peer = the client's own code echoed; HTTP = refused upgrade):\n%s", table)

	for _, key := range []string{"conns:127.0.0.1", "conns:*"} {
		if n := slots.Held(key); n != 0 {
			t.Errorf("%d connection slots of %q still held", n, key)
		}
	}
	if n := slots.held(); n != 0 {
		t.Errorf("%d connection slots still held, over the %d keys the store saw", n, slots.keys())
	}
	goleak.VerifyNone(t)
	heapEnd := heapInUse()
	t.Logf("heap in use: %.1f MiB after the warm-up, %.1f MiB at the end", mib(heapBase), mib(heapEnd))
	if heapEnd > heapBase+chaosHeapSlack {
		t.Errorf("heap grew by %.1f MiB over %d connections", mib(heapEnd-heapBase), chaosWaves*chaosWaveSize)
	}
	elapsed := time.Since(start)
	t.Logf("%d connections in %v", table.total, elapsed.Round(time.Millisecond))
	if elapsed > chaosBudget {
		t.Errorf("the chaos run took %v, over its budget of %v", elapsed, chaosBudget)
	}
}

func chaosSeed() uint64 {
	if s, err := strconv.ParseUint(os.Getenv("WSMW_CHAOS_SEED"), 10, 64); err == nil {
		return s
	}
	return uint64(time.Now().UnixNano())
}

// runWave runs n connections with random fates against a fresh server and
// Registry and returns their records once every one has ended. The
// Registry shuts down once every connection but the fateShutdown ones has
// ended, or, when mid is set, as soon as four fifths of them have dialed:
// the others are then refused (503) or cut short.
func runWave(t *testing.T, mode conntest.Mode, name string, n int, mid bool, rng *rand.Rand, slots ratelimit.Store) []*record {
	t.Helper()
	recs := make([]*record, n)
	byID := make(map[string]*record, n)
	for i := range recs {
		rec := &record{id: name + "-" + strconv.Itoa(i), fate: fate(rng.IntN(int(numFates))), ended: make(chan struct{})}
		rec.subject = "sub-" + rec.id
		rec.early = rng.IntN(3) == 0
		if rec.fate == fateClean {
			rec.code, rec.reason = randomPeerCode(rng), randomReason(rng)
		}
		recs[i] = rec
		byID[rec.id] = rec
	}
	reg := lifecycle.NewRegistry()
	srv := httptest.NewServer(chaosHandler(reg, byID, slots, mode))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"

	var all, others sync.WaitGroup
	var dialed atomic.Int32
	midway := make(chan struct{})
	sem := make(chan struct{}, chaosDialsAtOnce)
	for _, rec := range recs {
		all.Add(1)
		other := rec.fate != fateShutdown
		if other {
			others.Add(1)
		}
		go func() {
			defer all.Done()
			if other {
				defer others.Done()
			}
			sem <- struct{}{}
			runClient(url, rec, func() {
				<-sem
				if int(dialed.Add(1)) == n*4/5 {
					close(midway)
				}
			}, reg.Revoke)
			if rec.status == http.StatusSwitchingProtocols {
				select {
				case <-rec.ended:
				case <-time.After(clientTimeout):
				}
			}
		}()
	}

	if mid {
		<-midway // every client calls dialed, so this comes
	} else if !waitGroup(&others, 45*time.Second) {
		t.Fatalf("%s: connections still open before the shutdown:\n%s", name, stuck(recs))
	}
	shutdownErr := make(chan error, 1)
	go func() { shutdownErr <- shutdown(reg, 10*time.Second) }()
	if !waitGroup(&all, 45*time.Second) {
		t.Fatalf("%s: connections still open after the shutdown:\n%s", name, stuck(recs))
	}
	if err := <-shutdownErr; err != nil {
		t.Errorf("%s: shutdown had to force connections: %v", name, err)
	}
	if n := reg.Len(); n != 0 {
		t.Errorf("%s: %d connections left in the Registry", name, n)
	}
	return recs
}

// checkWave checks every record of a wave and adds it to the table.
func checkWave(t *testing.T, recs []*record, mid bool, table *fateTable) {
	t.Helper()
	bad := 0
	fail := func(rec *record, format string, args ...any) {
		if bad++; bad <= 20 {
			t.Errorf("%s (%v): %s", rec.id, rec.fate, fmt.Sprintf(format, args...))
		}
	}
	for _, rec := range recs {
		hooks := rec.hooks.Load()
		if rec.status != http.StatusSwitchingProtocols {
			table.add(rec.fate, "HTTP "+strconv.Itoa(rec.status))
			switch {
			case rec.status == 0:
				fail(rec, "no handshake: %s", rec.clientErr)
			case !mid || rec.status != http.StatusServiceUnavailable:
				fail(rec, "upgrade refused with %d", rec.status)
			}
			if hooks != 0 {
				fail(rec, "%d OnClose calls without an upgrade", hooks)
			}
			continue
		}
		if hooks != 1 {
			fail(rec, "%d OnClose calls, want exactly 1", hooks)
			continue
		}
		table.add(rec.fate, label(rec))
		if msg := checkServerEnd(rec, mid); msg != "" {
			fail(rec, "server end: %s", msg)
		}
		if mid {
			continue // the shutdown may cut any client script short
		}
		if rec.clientErr != "" && rec.fate != fateSlow {
			fail(rec, "client: %s", rec.clientErr)
		}
		if want := clientWant(rec); want != 0 && rec.clientCode != want {
			fail(rec, "the client read close code %d, want %d", rec.clientCode, want)
		}
	}
	if bad > 20 {
		t.Errorf("... and %d more", bad-20)
	}
}

// label names a server-side end for the table.
func label(rec *record) string {
	info := rec.info
	switch {
	case info.Initiator == lifecycle.InitiatorPeer && rec.fate == fateClean && int(info.Code) == rec.code:
		return "peer (own code)"
	case info.Code >= 4000 && info.Code < 4000+lifecycle.StatusCode(len(closerErrs)):
		return info.Initiator.String() + " 4000-4007"
	}
	return info.Initiator.String() + " " + strconv.Itoa(int(info.Code))
}

// fateTable counts the observed ends of each fate.
type fateTable struct {
	counts [numFates]map[string]int
	cols   map[string]bool
	total  int
}

func newFateTable() *fateTable {
	ft := &fateTable{cols: map[string]bool{}}
	for i := range ft.counts {
		ft.counts[i] = map[string]int{}
	}
	return ft
}

func (ft *fateTable) add(f fate, col string) {
	ft.counts[f][col]++
	ft.cols[col] = true
	ft.total++
}

func (ft *fateTable) String() string {
	cols := make([]string, 0, len(ft.cols))
	for c := range ft.cols {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "fate\ttotal\t%s\t\n", strings.Join(cols, "\t"))
	for f := range numFates {
		row := ft.counts[f]
		sum := 0
		cells := make([]string, len(cols))
		for i, c := range cols {
			sum += row[c]
			if row[c] > 0 {
				cells[i] = strconv.Itoa(row[c])
			} else {
				cells[i] = "."
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t\n", f, sum, strings.Join(cells, "\t"))
	}
	tw.Flush()
	return b.String()
}

// stuck lists the connections whose server side has not ended.
func stuck(recs []*record) string {
	var b strings.Builder
	n := 0
	for _, rec := range recs {
		select {
		case <-rec.ended:
			continue
		default:
		}
		if n++; n <= 30 {
			fmt.Fprintf(&b, "  %s %v status=%d client=%q\n", rec.id, rec.fate, rec.status, rec.clientErr)
		}
	}
	fmt.Fprintf(&b, "  (%d in all)", n)
	return b.String()
}

func waitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC() // the second also empties the sync.Pools
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
