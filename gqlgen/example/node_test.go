package main

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

	"github.com/wsmw/wsmw/internal/wstest"
)

// nodeDir holds the Node clients and their committed package.json and
// package-lock.json; `npm ci --prefix gqlgen/testdata/node` installs them.
const nodeDir = "../testdata/node"

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
		wstest.Missing(t, "node", "install nodejs and npm (apt)")
	}
	for _, mod := range []string{"graphql-ws", "subscriptions-transport-ws", "ws", "graphql"} {
		if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", mod, "package.json")); err != nil {
			wstest.Missing(t, "npm package "+mod, "run `npm ci --prefix gqlgen/testdata/node`")
		}
	}
	return bin
}

// runNode runs client.mjs with opts and returns its events; onEvent, if
// not nil, sees each as it arrives (to act on "ready").
func runNode(t *testing.T, opts map[string]any, onEvent func(nodeEvent)) []nodeEvent {
	t.Helper()
	n := startNode(t, opts)
	var events []nodeEvent
	for ev := range n.events {
		events = append(events, ev)
		if onEvent != nil {
			onEvent(ev)
		}
	}
	if err := n.wait(); err != nil {
		t.Fatalf("node client: %v\nevents %+v\nstderr:\n%s", err, events, n.stderr.String())
	}
	return events
}

// nodeProc is a running client.mjs.
type nodeProc struct {
	cmd    *exec.Cmd
	events chan nodeEvent // every event, closed when the client's output ends
	exited chan struct{}  // closed when the client has exited, after events
	err    error          // the client's exit, once exited is closed
	stderr *wstest.Buffer
}

// wait waits for the client to exit and returns how it exited.
func (n *nodeProc) wait() error {
	<-n.exited
	return n.err
}

// startNode starts client.mjs with opts. Its events arrive on events
// (buffered: a client nobody reads from is not held up); the test's
// cleanup kills it if it still runs.
func startNode(t *testing.T, opts map[string]any) *nodeProc {
	t.Helper()
	bin := node(t)
	arg, _ := json.Marshal(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	n := &nodeProc{
		cmd:    exec.CommandContext(ctx, bin, filepath.Join(nodeDir, "client.mjs"), string(arg)),
		events: make(chan nodeEvent, 4096),
		exited: make(chan struct{}),
		stderr: new(wstest.Buffer),
	}
	n.cmd.Stderr = n.stderr
	out, err := n.cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev nodeEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("client output %q: %v", sc.Text(), err)
				continue
			}
			n.events <- ev
		}
		io.Copy(io.Discard, out)
		close(n.events)
		n.err = n.cmd.Wait() // after every read from the pipe
		close(n.exited)
	}()
	t.Cleanup(func() {
		cancel() // kills the client if it still runs
		for range n.events {
		}
		<-n.exited
	})
	return n
}

// next returns the client's next event named name, failing when the
// client's output ends or d passes first.
func (n *nodeProc) next(t *testing.T, name string, d time.Duration) nodeEvent {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-n.events:
			if !ok {
				t.Fatalf("node client ended without %q; stderr:\n%s", name, n.stderr.String())
			}
			if ev.Event == name {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %q from the node client within %v", name, d)
		}
	}
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
		// The client unsubscribes after its third tick; ticks already on
		// the wire then (a loaded machine delays and bunches them) still
		// arrive, in order.
		if len(got) < 3 || fmt.Sprint(got[:3]) != "[1 2 3]" || got[len(got)-1] != len(got) {
			t.Fatalf("ticks %v, want 1, 2, 3 (and then at most those in flight); events %+v", got, evs)
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

	// The default: an expired token is fatal, even to a client whose
	// connectionParams would mint a fresh one (TestNodeTokenRenewal has
	// the option that makes it retried).
	t.Run("2-second token", func(t *testing.T) {
		issued := time.Now()
		tokenURL := "http://" + p.addr + "/token?sub=short&ttl=2s"
		evs := runNode(t, map[string]any{"url": url, "tokenUrl": tokenURL, "everyMs": 100, "retryAttempts": 5, "retryWaitMs": 20}, nil)
		ev, ok := find(evs, "error")
		if !ok || ev.Code != 1008 || ev.Reason != "token expired" {
			t.Fatalf("error %+v, want 1008 token expired; events %+v", ev, evs)
		}
		// exp has a one-second resolution: the token ends 1-2 s after it
		// was issued (by the client's fetch, after this test's clock
		// started).
		d := time.Since(issued)
		if d < time.Second || d > 5*time.Second {
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

		// The revocation holds with no option: the same token is refused
		// at connection_init, with a code graphql-ws reports.
		evs = runNode(t, map[string]any{"url": url, "token": tok}, nil)
		if ev, _ := find(evs, "error"); ev.Code != 4403 || ev.Reason != "Forbidden: token revoked" {
			t.Fatalf("same token after the revocation: %+v, want 4403 Forbidden: token revoked; events %+v", ev, evs)
		}
		if _, ok := find(evs, "next"); ok {
			t.Fatalf("the revoked token got ticks: %+v", evs)
		}
		// A token issued after it (iat counts whole seconds) gets in.
		<-time.After(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
		evs = runNode(t, map[string]any{"url": url, "token": p.token("rev", time.Hour), "ticks": 3, "everyMs": 20}, nil)
		if count(evs, "next") != 3 {
			t.Fatalf("a token issued after the revocation: events %+v, want 3 ticks", evs)
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
	// 2-second token and revoke 1008, the revoked token 4403, the new
	// login 1000, legacy 1000 and 4403.
	want := map[string]int{"1000": 3, "4403": 6, "4408": 1, "1008": 2}
	byCode := func() map[string]int {
		got := map[string]int{}
		for _, l := range p.closedLines() {
			got[fmt.Sprint(l["code"])]++
		}
		return got
	}
	if !p.stderr.WaitFor(10*time.Second, func() bool { return fmt.Sprint(byCode()) == fmt.Sprint(want) }) {
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
// down", the graphql-ws client retries once and, finding the server gone,
// gives up although it has retries left; the example exits 0.
func TestNodeSIGTERM(t *testing.T) {
	t.Parallel()
	node(t)
	p := startExample(t, "-shutdown-timeout", "5s")
	exited := make(chan error, 1)
	evs := runNode(t, map[string]any{"url": p.url(), "token": p.token("term", time.Hour), "everyMs": 50, "retryAttempts": 5, "retryWaitMs": 200}, func(ev nodeEvent) {
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
	// graphql-ws's default shouldRetry retries close events only: the
	// first refused connection ends it, with four retries left
	// (TestNodeRestart has the setting that survives a restart).
	if n := count(evs, "connecting"); n != 2 {
		t.Fatalf("%d connection attempts, want 2 (the first, one retry that was refused); events %+v", n, evs)
	}
	p.stderr.WaitFor(10*time.Second, func() bool { return len(p.closedLines()) > 0 })
	lines := p.closedLines()
	if len(lines) != 1 || fmt.Sprint(lines[0]["code"]) != "1001" || lines[0]["cause"] != "server shutting down" {
		t.Fatalf("ws closed lines %v, want one 1001", lines)
	}
}

// TestNodeSubjectCap: with -max-conns-per-subject 2, the npm graphql-ws
// client's third connection of one subject, its token in connection_init,
// is closed with 1013 "too many connections", which its error callback
// sees when it has no retries left; with retries (1013 is retried, with
// backoff), a client gets in as soon as one of the two others has gone.
func TestNodeSubjectCap(t *testing.T) {
	t.Parallel()
	node(t)
	p := startExample(t, "-max-conns-per-subject", "2")
	url, tok := p.url(), p.token("capped", time.Hour)
	var holders []*nodeProc
	for range 2 {
		h := startNode(t, map[string]any{"url": url, "token": tok, "everyMs": 100})
		h.next(t, "ready", 30*time.Second)
		holders = append(holders, h)
	}

	evs := runNode(t, map[string]any{"url": url, "token": tok}, nil)
	ev, _ := find(evs, "error")
	if ev.Code != 1013 || ev.Reason != "too many connections" {
		t.Fatalf("third connection: error %+v, want 1013 too many connections; events %+v", ev, evs)
	}
	if _, ok := find(evs, "next"); ok {
		t.Fatalf("the third connection got ticks: %+v", evs)
	}

	// 1013 is retried: with two retries, three attempts, then the error.
	evs = runNode(t, map[string]any{"url": url, "token": tok, "retryAttempts": 2, "retryWaitMs": 20}, nil)
	if n := count(evs, "connecting"); n != 3 {
		t.Fatalf("%d connection attempts, want 3 (1013 is retried); events %+v", n, evs)
	}
	if ev, _ := find(evs, "error"); ev.Code != 1013 {
		t.Fatalf("final error %+v, want 1013", ev)
	}

	// Retrying: refused while both hold their slots; one holder dies (its
	// process is killed: the server sees the connection drop, 1006) and a
	// retry gets in.
	killed := false
	evs = runNode(t, map[string]any{"url": url, "token": tok, "ticks": 3, "everyMs": 20, "retryAttempts": 20, "retryWaitMs": 100}, func(ev nodeEvent) {
		if ev.Event == "closed" && ev.Code == 1013 && !killed {
			killed = true
			holders[0].cmd.Process.Kill()
		}
	})
	if !killed {
		t.Fatalf("the retrying client was never refused: %+v", evs)
	}
	if count(evs, "next") != 3 {
		t.Fatalf("the retrying client got %d ticks, want 3; events %+v", count(evs, "next"), evs)
	}
	if _, ok := find(evs, "error"); ok {
		t.Fatalf("the retrying client saw an error: %+v", evs)
	}
	t.Logf("retrying client: %d connection attempts before it got in", count(evs, "connecting"))

	// The last holder ends with the subject's revocation (1008, fatal).
	if resp, err := http.Post("http://"+p.addr+"/admin/revoke?sub=capped", "text/plain", nil); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if ev := holders[1].next(t, "error", 30*time.Second); ev.Code != 1008 {
		t.Fatalf("last holder: %+v, want 1008", ev)
	}
	holders[1].wait()

	// The example logged the refusals as 1013 with the cap as the cause.
	refusals := func() []map[string]any {
		var out []map[string]any
		for _, l := range p.closedLines() {
			if fmt.Sprint(l["code"]) == "1013" {
				out = append(out, l)
			}
		}
		return out
	}
	if !p.stderr.WaitFor(10*time.Second, func() bool { return len(refusals()) >= 5 }) {
		t.Fatalf("%d ws closed lines with 1013, want at least 5; log:\n%s", len(refusals()), p.stderr)
	}
	for _, l := range refusals() {
		if cause := fmt.Sprint(l["cause"]); !strings.Contains(cause, "too many connections") || l["subject"] != "" {
			t.Fatalf("ws closed line of a refusal: %v", l)
		}
	}
}
