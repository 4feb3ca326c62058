package bench_test

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/bench"
)

// TestRowsEcho checks that every row, served by a child process, echoes
// text and binary messages of both benchmark sizes, and that its counters
// see the connection come and go.
func TestRowsEcho(t *testing.T) {
	for _, name := range bench.Names() {
		t.Run(name, func(t *testing.T) {
			c := startChild(t, name, bench.ChildConfig{})
			defer c.Close()
			ws, _, err := dialer.Dial(c.URL(), header(t, name))
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			for _, size := range []int{64, 4096} {
				for _, mt := range []int{websocket.TextMessage, websocket.BinaryMessage} {
					msg := bytes.Repeat([]byte("x"), size)
					if err := ws.WriteMessage(mt, msg); err != nil {
						t.Fatal(err)
					}
					gotType, got, err := ws.ReadMessage()
					if err != nil {
						t.Fatal(err)
					}
					if gotType != mt || !bytes.Equal(got, msg) {
						t.Fatalf("echo of %d bytes (type %d): got %d bytes (type %d)", size, mt, len(got), gotType)
					}
				}
			}
			ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			ws.Close()
			st := waitStats(t, c, "the connection to end", func(s bench.Stats) bool { return s.Closed == 1 })
			if st.Opened != 1 {
				t.Fatalf("opened = %d, want 1", st.Opened)
			}
		})
	}
}

// TestFullStackNeedsToken checks that the full stack really runs its JWT
// policy: no token, no upgrade.
func TestFullStackNeedsToken(t *testing.T) {
	c := startChild(t, bench.WSMWFull, bench.ChildConfig{})
	defer c.Close()
	_, resp, err := dialer.Dial(c.URL(), nil)
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial without a token: err %v, response %v; want 401", err, resp)
	}
}

// TestShutdownRows checks, on a few connections, what BenchmarkShutdown
// measures: every client sees 1001 and, for the wsmw rows, the server
// reports every close handshake complete.
func TestShutdownRows(t *testing.T) {
	const n = 20
	for _, name := range []string{bench.WSMW, bench.WSMWFull, bench.WSMWEvents, bench.WSMWFullEvents} {
		t.Run(name, func(t *testing.T) {
			c := startChild(t, name, bench.ChildConfig{})
			defer c.Close()
			conns := dialMany(t, c.URL(), header(t, name), n)
			defer closeConns(conns)
			waitStats(t, c, "every upgrade", func(s bench.Stats) bool { return s.Opened == n })
			for _, ws := range conns {
				ws.SetReadDeadline(time.Now().Add(waitBound))
			}
			rd := startReaders(conns)
			_, st, err := c.Shutdown()
			rd.wait()
			if err != nil {
				t.Fatal(err)
			}
			if got := rd.saw(websocket.CloseGoingAway); got != n {
				t.Errorf("%d of %d clients saw 1001", got, n)
			}
			if st.Clean != n || st.Closed != n {
				t.Errorf("server: %d closed, %d with a complete 1001 handshake; want %d", st.Closed, st.Clean, n)
			}
		})
	}
}

// TestHeartbeatRows checks that the rows given a 1 s heartbeat ping their
// clients, with the connections staying up.
func TestHeartbeatRows(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for pings")
	}
	for _, name := range []string{bench.Tuned, bench.Melody, bench.WSMW, bench.WSMWFull, bench.WSMWEvents, bench.WSMWFullEvents} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := startChild(t, name, bench.ChildConfig{Ping: 100 * time.Millisecond})
			defer c.Close()
			conns := dialMany(t, c.URL(), header(t, name), 2)
			rd := startReaders(conns)
			defer rd.wait()
			defer closeConns(conns)
			deadline := time.Now().Add(waitBound)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for ; rd.pings.Load() < 6; <-tick.C {
				if time.Now().After(deadline) {
					t.Fatalf("only %d pings", rd.pings.Load())
				}
				st, err := c.Stats()
				if err != nil {
					t.Fatal(err)
				}
				if st.Closed != 0 {
					t.Fatalf("a connection ended: %+v", st)
				}
			}
		})
	}
}

// TestStats checks the child's figures are plausible.
func TestStats(t *testing.T) {
	c := startChild(t, bench.Tuned, bench.ChildConfig{})
	defer c.Close()
	st, err := c.Settle()
	if err != nil {
		t.Fatal(err)
	}
	if st.CPU <= 0 || st.RSS <= 0 || st.Heap <= 0 || st.Goroutines <= 0 || st.Mallocs == 0 {
		t.Fatalf("implausible stats: %+v", st)
	}
}
