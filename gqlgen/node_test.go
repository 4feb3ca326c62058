package gqlgen_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeDir holds the Node clients and their committed package.json and
// package-lock.json; `npm ci --prefix gqlgen/testdata/node` installs them.
const nodeDir = "testdata/node"

// nodeEvent is one line of client.mjs's output.
type nodeEvent struct {
	Event    string `json:"event"`
	Ms       int    `json:"ms"`
	Retrying bool   `json:"retrying"`
	Value    *int   `json:"value"`
	Code     int    `json:"code"`
	Reason   string `json:"reason"`
	Message  string `json:"message"`
}

// node returns the node binary, or skips (fails with
// WSMW_REQUIRE_INTEGRATION=1) when node or the npm packages are missing.
func node(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node", "install nodejs and npm (apt)")
	}
	for _, mod := range []string{"graphql-ws", "subscriptions-transport-ws", "ws", "graphql"} {
		if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", mod, "package.json")); err != nil {
			missing(t, "npm package "+mod, "run `npm ci --prefix gqlgen/testdata/node`")
		}
	}
	return bin
}

// runNode runs client.mjs with opts and returns its events; onEvent, if
// not nil, sees each as it arrives (to act on "ready").
func runNode(t *testing.T, opts map[string]any, onEvent func(nodeEvent)) []nodeEvent {
	t.Helper()
	bin := node(t)
	arg, _ := json.Marshal(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, filepath.Join(nodeDir, "client.mjs"), string(arg))
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var events []nodeEvent
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var ev nodeEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Errorf("client output %q: %v", sc.Text(), err)
			continue
		}
		events = append(events, ev)
		if onEvent != nil {
			onEvent(ev)
		}
	}
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node client: %v\nevents %+v\nstderr:\n%s", err, events, stderr.String())
	}
	return events
}

func find(events []nodeEvent, name string) (nodeEvent, bool) {
	for _, ev := range events {
		if ev.Event == name {
			return ev, true
		}
	}
	return nodeEvent{}, false
}

func count(events []nodeEvent, name string) int {
	n := 0
	for _, ev := range events {
		if ev.Event == name {
			n++
		}
	}
	return n
}

// TestNodeGraphQLWS drives the example with the npm graphql-ws client
// (and subscriptions-transport-ws for the legacy subprotocol): ticks, a bad
// token, no connection_init, a 2-second token, a revocation, and the
// example's one "ws closed" line per connection.
func TestNodeGraphQLWS(t *testing.T) {
	t.Parallel()
	node(t)
	p := startExample(t, "-init-timeout", "1s")
	url := p.url()

	t.Run("ticks", func(t *testing.T) {
		evs := runNode(t, map[string]any{"url": url, "token": p.token("tick", time.Hour), "ticks": 3, "everyMs": 20}, nil)
		var got []int
		for _, ev := range evs {
			if ev.Event == "next" && ev.Value != nil {
				got = append(got, *ev.Value)
			}
		}
		if fmt.Sprint(got) != "[1 2 3]" {
			t.Fatalf("ticks %v, want [1 2 3]; events %+v", got, evs)
		}
		if _, ok := find(evs, "complete"); !ok {
			t.Fatalf("no complete: %+v", evs)
		}
	})

	t.Run("bad token", func(t *testing.T) {
		evs := runNode(t, map[string]any{"url": url, "token": "not.a.token"}, nil)
		ev, _ := find(evs, "error")
		if ev.Code != 4403 || !strings.HasPrefix(ev.Reason, "Forbidden") {
			t.Fatalf("error %+v, want 4403 Forbidden; events %+v", ev, evs)
		}
	})

	t.Run("bad token is retried by graphql-ws", func(t *testing.T) {
		evs := runNode(t, map[string]any{"url": url, "token": "not.a.token", "retryAttempts": 2, "retryWaitMs": 20}, nil)
		if n := count(evs, "connecting"); n != 3 {
			t.Fatalf("%d connection attempts, want 3 (4403 is retried); events %+v", n, evs)
		}
		if ev, _ := find(evs, "error"); ev.Code != 4403 {
			t.Fatalf("final error %+v, want 4403", ev)
		}
	})

	t.Run("no connection_init", func(t *testing.T) {
		evs := runNode(t, map[string]any{"url": url, "token": p.token("slow", time.Hour), "initDelayMs": 5000}, nil)
		opened, _ := find(evs, "opened")
		ev, _ := find(evs, "closed")
		if ev.Code != 4408 || ev.Reason != "connection initialisation timeout" {
			t.Fatalf("closed %+v, want 4408; events %+v", ev, evs)
		}
		d := time.Duration(ev.Ms-opened.Ms) * time.Millisecond
		if d < 800*time.Millisecond || d > 2500*time.Millisecond {
			t.Fatalf("closed %v after opening, want about the 1s init timeout", d)
		}
		t.Logf("4408 seen by the client %v after its socket opened (-init-timeout 1s)", d)
		if ev, _ := find(evs, "error"); ev.Code != 4408 {
			t.Fatalf("error %+v, want 4408", ev)
		}
	})

	t.Run("2-second token", func(t *testing.T) {
		tok := p.token("short", 2*time.Second)
		issued := time.Now()
		evs := runNode(t, map[string]any{"url": url, "token": tok, "everyMs": 100, "retryAttempts": 5, "retryWaitMs": 20}, nil)
		ev, ok := find(evs, "error")
		if !ok || ev.Code != 1008 || ev.Reason != "token expired" {
			t.Fatalf("error %+v, want 1008 token expired; events %+v", ev, evs)
		}
		// exp has a one-second resolution: the token ends 1-2 s after it
		// was issued.
		d := time.Since(issued)
		if d < time.Second || d > 3500*time.Millisecond {
			t.Fatalf("ended %v after the token was issued, want about 2s", d)
		}
		t.Logf("1008 token expired: client process done %v after the token was issued; %d ticks", d, count(evs, "next"))
		if count(evs, "next") < 5 {
			t.Fatalf("only %d ticks before the end", count(evs, "next"))
		}
		if n := count(evs, "connecting"); n != 1 {
			t.Fatalf("%d connection attempts, want 1: 1008 is fatal, no silent retry", n)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		tok := p.token("rev", time.Hour)
		evs := runNode(t, map[string]any{"url": url, "token": tok, "everyMs": 50, "retryAttempts": 5, "retryWaitMs": 20}, func(ev nodeEvent) {
			if ev.Event != "ready" {
				return
			}
			resp, err := http.Post("http://"+p.addr+"/admin/revoke?sub=rev", "text/plain", nil)
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.TrimSpace(string(body)) != `{"revoked":1}` {
				t.Errorf("revoke: %s", body)
			}
		})
		ev, _ := find(evs, "error")
		if ev.Code != 1008 || ev.Reason != "session revoked" {
			t.Fatalf("error %+v, want 1008 session revoked; events %+v", ev, evs)
		}
		if n := count(evs, "connecting"); n != 1 {
			t.Fatalf("%d connection attempts, want 1", n)
		}
	})

	t.Run("legacy graphql-ws", func(t *testing.T) {
		evs := runNode(t, map[string]any{"url": url, "protocol": "graphql-ws", "token": p.token("old", time.Hour), "ticks": 3, "everyMs": 20}, nil)
		if count(evs, "next") != 3 {
			t.Fatalf("events %+v, want 3 ticks", evs)
		}
	})

	t.Run("legacy bad token", func(t *testing.T) {
		evs := runNode(t, map[string]any{"url": url, "protocol": "graphql-ws", "token": "bad"}, nil)
		if ev, _ := find(evs, "error"); !strings.Contains(ev.Message, "malformed token") {
			t.Fatalf("events %+v, want the connection error", evs)
		}
	})

	// One "ws closed" line per connection, each with every key and no
	// token: ticks 1000, bad token 4403, retried 4403 ×3, no init 4408,
	// 2-second token and revoke 1008, legacy 1000 and 4403.
	want := map[string]int{"1000": 2, "4403": 5, "4408": 1, "1008": 2}
	byCode := func() map[string]int {
		got := map[string]int{}
		for _, l := range p.closedLines() {
			got[fmt.Sprint(l["code"])]++
		}
		return got
	}
	if !p.stderr.waitFor(10*time.Second, func() bool { return fmt.Sprint(byCode()) == fmt.Sprint(want) }) {
		t.Fatalf("ws closed lines by code %v, want %v; log:\n%s", byCode(), want, p.stderr)
	}
	for _, l := range p.closedLines() {
		for _, k := range []string{"code", "reason", "initiator", "cause", "duration", "subject"} {
			if _, ok := l[k]; !ok {
				t.Fatalf("ws closed line %v has no %q", l, k)
			}
		}
		if strings.Contains(fmt.Sprint(l), "eyJ") {
			t.Fatalf("a token in the log: %v", l)
		}
	}
}

// TestNodeSIGTERM: SIGTERM gives every subscription 1001 "server shutting
// down", the graphql-ws client retries and finds the server gone, and the
// example exits 0.
func TestNodeSIGTERM(t *testing.T) {
	t.Parallel()
	node(t)
	p := startExample(t, "-shutdown-timeout", "5s")
	exited := make(chan error, 1)
	evs := runNode(t, map[string]any{"url": p.url(), "token": p.token("term", time.Hour), "everyMs": 50, "retryAttempts": 2, "retryWaitMs": 200}, func(ev nodeEvent) {
		if ev.Event == "ready" {
			go func() {
				start := time.Now()
				err := p.sigterm()
				t.Logf("example exited %v after SIGTERM", time.Since(start))
				exited <- err
			}()
		}
	})
	if err := <-exited; err != nil {
		t.Fatalf("example exit: %v; stderr:\n%s", err, p.stderr)
	}
	closed, _ := find(evs, "closed")
	if closed.Code != 1001 || closed.Reason != "server shutting down" {
		t.Fatalf("closed %+v, want 1001 server shutting down; events %+v", closed, evs)
	}
	retried := false
	for _, ev := range evs {
		retried = retried || ev.Event == "connecting" && ev.Retrying
	}
	if !retried {
		t.Fatalf("graphql-ws did not retry after 1001: %+v", evs)
	}
	if ev, _ := find(evs, "error"); ev.Code != 0 || !strings.Contains(ev.Message, "ECONNREFUSED") {
		t.Fatalf("final error %+v, want the refused connection of a server that is gone", ev)
	}
	p.stderr.waitFor(10*time.Second, func() bool { return len(p.closedLines()) > 0 })
	lines := p.closedLines()
	if len(lines) != 1 || fmt.Sprint(lines[0]["code"]) != "1001" || lines[0]["cause"] != "server shutting down" {
		t.Fatalf("ws closed lines %v, want one 1001", lines)
	}
}
