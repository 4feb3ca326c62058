package bench_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
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

// TestFullStackNeedsToken checks that the full stacks really run their JWT
// policy: no token, no upgrade.
func TestFullStackNeedsToken(t *testing.T) {
	for _, name := range []string{bench.WSMWFull, bench.WSMWExampleEvents} {
		t.Run(name, func(t *testing.T) {
			c := startChild(t, name, bench.ChildConfig{})
			defer c.Close()
			_, resp, err := dialer.Dial(c.URL(), nil)
			if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("dial without a token: err %v, response %v; want 401", err, resp)
			}
		})
	}
}

// TestExampleStack checks the example row's stack: its policies are the
// ones ExamplePolicies names, its origin check refuses another site's
// page, its size limit closes with 1009, and a row running only the
// first policies upgrades without a token and echoes.
func TestExampleStack(t *testing.T) {
	stack, err := bench.ExampleStack(bench.Options{Secret: bench.Secret}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if len(stack) != len(bench.ExamplePolicies) {
		t.Fatalf("ExampleStack has %d policies, ExamplePolicies names %d", len(stack), len(bench.ExamplePolicies))
	}
	c := startChild(t, bench.WSMWExampleEvents, bench.ChildConfig{})
	defer c.Close()
	h := header(t, bench.WSMWExampleEvents)
	foreign := h.Clone()
	foreign.Set("Origin", "https://elsewhere.example")
	_, resp, err := dialer.Dial(c.URL(), foreign)
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial from another origin: err %v, response %v; want 403", err, resp)
	}
	ws, _, err := dialer.Dial(c.URL(), h)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.BinaryMessage, make([]byte, 64<<10+1)); err != nil {
		t.Fatal(err)
	}
	_, _, err = ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("a message over 64 KiB: %v; want close 1009", err)
	}

	jwtAt := slices.Index(bench.ExamplePolicies, "jwt")
	name := fmt.Sprintf("%s@%d", bench.WSMWExampleEvents, jwtAt)
	if bench.NeedsToken(name) {
		t.Fatalf("NeedsToken(%q) = true, but the row stops before the JWT policy", name)
	}
	c2 := startChild(t, name, bench.ChildConfig{})
	defer c2.Close()
	ws2, _, err := dialer.Dial(c2.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.Close()
	if err := ws2.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws2.ReadMessage(); err != nil || string(msg) != "hi" {
		t.Fatalf("echo: %q, %v", msg, err)
	}
}

// TestShutdownRows checks, on a few connections, what BenchmarkShutdown
// measures: every client sees 1001 and, for the wsmw rows, the server
// reports every close handshake complete.
func TestShutdownRows(t *testing.T) {
	const n = 20
	for _, name := range []string{bench.WSMW, bench.WSMWFull, bench.WSMWEvents, bench.WSMWFullEvents, bench.WSMWExampleEvents} {
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
	for _, name := range []string{bench.Tuned, bench.Melody, bench.WSMW, bench.WSMWFull, bench.WSMWEvents, bench.WSMWFullEvents, bench.WSMWExampleEvents} {
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
