package resilience_test

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/ratelimit"
)

// The flood of the Robyn seed's DoS case: rapid connect/close cycles from
// one IP.
const (
	floodCycles  = 10_000
	floodWorkers = 16
	// The example's defaults: -connect-rate 60 (per minute), -max-conns-per-ip 100.
	exampleConnectRate = 60
	exampleMaxConns    = 100
)

// floodResult counts the answers of a connect flood.
type floodResult struct {
	mu         sync.Mutex
	status     map[int]int
	retryAfter string // of the first 429
	errs       []string
	elapsed    time.Duration
}

// connectFlood opens floodCycles connections to url from floodWorkers
// goroutines, each an opening handshake with header; an upgraded one is
// closed with a Close handshake, a refused one is dropped, every second
// time with a reset.
func connectFlood(url string, header http.Header) *floodResult {
	res := &floodResult{status: map[int]int{}}
	var next atomic.Int32
	var wg sync.WaitGroup
	start := time.Now()
	for range floodWorkers {
		wg.Go(func() {
			for i := next.Add(1); i <= floodCycles; i = next.Add(1) {
				res.cycle(url, header, i%2 == 0)
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

func (res *floodResult) cycle(url string, header http.Header, reset bool) {
	c, err := wstest.DialRaw(url, header)
	status := 0
	retryAfter := ""
	switch {
	case err == nil:
		status = http.StatusSwitchingProtocols
		c.WriteClose(1000, "")
		if _, err := c.WaitEOF(10 * time.Second); err != nil {
			res.note(0, "", "close handshake: "+err.Error())
		}
		c.Close()
	case c != nil && c.Response != nil:
		status = c.Response.StatusCode
		retryAfter = c.Response.Header.Get("Retry-After")
		if reset {
			c.Reset()
		}
	default:
		res.note(0, "", "dial: "+err.Error())
		return
	}
	res.note(status, retryAfter, "")
}

func (res *floodResult) note(status int, retryAfter, errText string) {
	res.mu.Lock()
	defer res.mu.Unlock()
	if errText != "" {
		if len(res.errs) < 10 {
			res.errs = append(res.errs, errText)
		}
		return
	}
	res.status[status]++
	if status == http.StatusTooManyRequests && res.retryAfter == "" {
		res.retryAfter = retryAfter
	}
}

// check holds the flood to a token bucket of burst perMinute refilled at
// perMinute a minute: every handshake answered 101 or 429, and no more
// 101s than the bucket allowed.
func (res *floodResult) check(t *testing.T, perMinute int) int {
	t.Helper()
	for _, e := range res.errs {
		t.Errorf("flood: %s", e)
	}
	ok, limited := res.status[http.StatusSwitchingProtocols], res.status[http.StatusTooManyRequests]
	allowed := perMinute + int(res.elapsed.Minutes()*float64(perMinute)) + 1
	t.Logf("%d connect/close cycles in %v: %d upgraded, %d refused with 429 (Retry-After %s), statuses %v",
		floodCycles, res.elapsed.Round(time.Millisecond), ok, limited, res.retryAfter, res.status)
	if ok+limited != floodCycles {
		t.Errorf("statuses %v: want only 101 and 429", res.status)
	}
	if ok == 0 || ok > allowed {
		t.Errorf("%d upgrades went through, want 1 to %d", ok, allowed)
	}
	if limited > 0 && res.retryAfter == "" {
		t.Error("429 without Retry-After")
	}
	return ok
}

// TestConnectFloodAgainstExample floods the example (default limits) with
// 10,000 connect/close cycles from 127.0.0.1: the connect rate lets its
// burst through and refuses the rest with 429; every upgraded connection is
// logged as closed exactly once, and the server's open files come back to
// where they were.
func TestConnectFloodAgainstExample(t *testing.T) {
	t.Parallel()
	forEachReadMode(t, func(t *testing.T, mode []string) {
		ex := startExample(t, mode...)
		header := http.Header{"Authorization": {"Bearer " + ex.token(t, "flooder")}}
		files := ex.openFiles(t)

		res := connectFlood(ex.wsURL(), header)
		upgraded := res.check(t, exampleConnectRate)

		if !wstest.Eventually(10*time.Second, func() bool { return ex.openFiles(t) <= files }) {
			t.Errorf("the example holds %d open files after the flood, %d before", ex.openFiles(t), files)
		}
		wstest.Eventually(10*time.Second, func() bool { return len(ex.logLines(t, "ws closed")) >= upgraded })
		if n := len(ex.logLines(t, "ws closed")); n != upgraded {
			t.Errorf("%d connections logged as closed, want %d", n, upgraded)
		}
		resp, err := plainHTTP.Get(ex.base + "healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz after the flood: %v %v", resp, err)
		}
		resp.Body.Close()
	})
}

// TestConnectFloodInProcess runs, in each read mode, the same flood against the example's
// limits and http.Server settings in this process, where goleak (TestMain),
// the Registry and the stores can see inside: no goroutine, connection or
// slot outlives it.
func TestConnectFloodInProcess(t *testing.T) {
	t.Parallel()
	for _, mode := range conntest.Modes {
		t.Run(mode.Name, func(t *testing.T) {
			reg := lifecycle.NewRegistry()
			buckets, slots := newKeyedStore(), newKeyedStore()
			var h http.Handler = mode.Handler(reg, conntest.DiscardMessage, middleware.WithLogger(discardLog))
			h = ratelimit.MaxConns(exampleMaxConns, ratelimit.WithStore(slots), middleware.WithLogger(discardLog))(h)
			h = ratelimit.ConnectRate(exampleConnectRate, time.Minute, ratelimit.WithStore(buckets), middleware.WithLogger(discardLog))(h)
			url := serveLikeExample(t, h)

			res := connectFlood(url, nil)
			res.check(t, exampleConnectRate)

			if !wstest.Eventually(10*time.Second, func() bool { return reg.Len() == 0 }) {
				t.Errorf("%d connections still registered", reg.Len())
			}
			if n := slots.Held("conns:127.0.0.1"); n != 0 || slots.held() != 0 {
				t.Errorf("%d connection slots still held, %d over the %d keys the store saw", n, slots.held(), slots.keys())
			}
			if n := buckets.keys(); n != 1 {
				t.Errorf("%d token buckets for one client IP", n)
			}
			if err := shutdown(reg, 5*time.Second); err != nil {
				t.Error(err)
			}
		})
	}
}

// serveLikeExample serves h on 127.0.0.1 with example/main.go's
// http.Server settings and returns the ws:// URL of /ws.
func serveLikeExample(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: exampleReadHeaderTimeout,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    exampleMaxHeaderBytes,
		ErrorLog:          nil,
	}
	served := make(chan struct{})
	go func() {
		srv.Serve(ln)
		close(served)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	return "ws://" + strings.TrimPrefix(ln.Addr().String(), "http://") + "/ws"
}
