package bench_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/bench"
)

// Flags of the bench test binary (pass them after the package: `go test
// -bench . ./ -args -wsmw.conns=500`, or directly with -wsmw.conns=500).
var (
	flagConns   = flag.String("wsmw.conns", "5000", "comma-separated connection counts for the idle and shutdown benchmarks")
	flagHBConns = flag.String("wsmw.hbconns", "5000,10000", "comma-separated connection counts for the heartbeat benchmark")
	flagWindow  = flag.Duration("wsmw.window", 5*time.Second, "CPU measurement window of the heartbeat benchmark")
	flagRows    = flag.String("wsmw.rows", "", "comma-separated rows to run (default: all)")
	flagProfile = flag.String("wsmw.profile", "", "directory for the server children's pprof files (cpu, heap), empty for none")
)

// waitBound bounds every wait on the child's counters.
const waitBound = 2 * time.Minute

// rows returns the rows to run, in display order.
func rows(tb testing.TB, want ...string) []string {
	all := bench.Names()
	if *flagRows != "" {
		var picked []string
		for _, r := range strings.Split(*flagRows, ",") {
			if slices.Contains(all, r) {
				picked = append(picked, r)
			}
		}
		all = picked
	}
	if len(want) == 0 {
		return all
	}
	var out []string
	for _, r := range all {
		if slices.Contains(want, r) {
			out = append(out, r)
		}
	}
	return out
}

// connCounts returns the -wsmw.conns counts.
func connCounts(tb testing.TB) []int {
	var out []int
	for _, f := range strings.Split(*flagConns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			tb.Fatalf("-wsmw.conns: bad count %q", f)
		}
		out = append(out, n)
	}
	return out
}

// startChild starts a server child for row name, its profile files named
// after tb.
func startChild(tb testing.TB, name string, cfg bench.ChildConfig) *bench.Child {
	tb.Helper()
	if *flagProfile != "" {
		clean := strings.NewReplacer("/", "_", "=", "-").Replace(tb.Name())
		cfg.Profile = filepath.Join(*flagProfile, clean)
	}
	c, err := bench.StartChild(name, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

var (
	tokenOnce sync.Once
	token     string
)

// header returns the handshake header the row needs: an HS256 bearer token
// for the rows that run JWT (valid for an hour, with the example's issuer),
// nothing for the others.
func header(tb testing.TB, name string) http.Header {
	if !bench.NeedsToken(name) {
		return nil
	}
	tokenOnce.Do(func() {
		claims := jwt.RegisteredClaims{
			Issuer:    bench.ExampleIssuer,
			Subject:   "bench",
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)),
		}
		var err error
		token, err = jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(bench.Secret)
		if err != nil {
			tb.Fatal(err)
		}
	})
	return http.Header{"Authorization": {"Bearer " + token}}
}

var dialer = &websocket.Dialer{HandshakeTimeout: 30 * time.Second}

// dialMany opens n connections with parallel dialers.
func dialMany(tb testing.TB, url string, h http.Header, n int) []*websocket.Conn {
	tb.Helper()
	conns := make([]*websocket.Conn, n)
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(n, 16) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				ws, resp, err := dialer.Dial(url, h)
				if err != nil {
					if resp != nil {
						err = fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
					}
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("dial %d of %d: %w", i+1, n, err)
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the others
					return
				}
				conns[i] = ws
			}
		})
	}
	wg.Wait()
	if first != nil {
		closeConns(conns)
		tb.Fatal(first)
	}
	return conns
}

func closeConns(conns []*websocket.Conn) {
	for _, ws := range conns {
		if ws != nil {
			ws.Close()
		}
	}
}

// waitStats polls the child until ok accepts its figures, for at most
// waitBound.
func waitStats(tb testing.TB, c *bench.Child, what string, ok func(bench.Stats) bool) bench.Stats {
	tb.Helper()
	deadline := time.Now().Add(waitBound)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := c.Stats()
		if err != nil {
			tb.Fatal(err)
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting for %s: %+v", what, st)
		}
		<-tick.C
	}
}

// roundTrip writes payload and reads the echo into buf.
func roundTrip(ws *websocket.Conn, payload, buf []byte) error {
	if err := ws.WriteMessage(websocket.BinaryMessage, payload); err != nil {
		return err
	}
	_, r, err := ws.NextReader()
	if err != nil {
		return err
	}
	n, err := io.ReadFull(r, buf)
	if err != nil {
		return err
	}
	if n != len(payload) {
		return errors.New("short echo")
	}
	return nil
}

// readers starts a goroutine per connection that reads until the
// connection fails, answering pings (counted in pings) and recording the
// Close it got; wait returns once all have stopped.
type readers struct {
	wg     sync.WaitGroup
	pings  atomic.Int64
	mu     sync.Mutex
	closes map[int]int // close code seen -> connections
}

func startReaders(conns []*websocket.Conn) *readers {
	rd := &readers{closes: map[int]int{}}
	for _, ws := range conns {
		ws.SetPingHandler(func(data string) error {
			rd.pings.Add(1)
			err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(10*time.Second))
			if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
				return err
			}
			return nil
		})
		rd.wg.Go(func() {
			for {
				_, r, err := ws.NextReader()
				if err != nil {
					var ce *websocket.CloseError
					code := -1
					if errors.As(err, &ce) {
						code = ce.Code
					}
					rd.mu.Lock()
					rd.closes[code]++
					rd.mu.Unlock()
					return
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					continue
				}
			}
		})
	}
	return rd
}

func (rd *readers) wait() { rd.wg.Wait() }

func (rd *readers) saw(code int) int {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.closes[code]
}

// perConn reports a process figure's growth per connection.
func perConn(b *testing.B, before, after int64, n int, unit string) {
	b.ReportMetric(float64(after-before)/float64(n), unit)
}
