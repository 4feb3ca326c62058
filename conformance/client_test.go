package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// client is an external WebSocket client program: argv plus one JSON
// config argument. python/client.py and node/client.js share the config
// and the output (one JSON event per line).
type client struct {
	name string
	argv []string
	env  []string
}

// event is one JSON line a client printed.
type event struct {
	Event           string   `json:"event"`
	Name            string   `json:"name"`
	Protocol        string   `json:"protocol"`
	Data            string   `json:"data"`
	Size            int      `json:"size"`
	Code            int      `json:"code"`
	Reason          string   `json:"reason"`
	WasClean        bool     `json:"wasClean"`
	Rcvd            []any    `json:"rcvd"`
	Sent            []any    `json:"sent"`
	Status          int      `json:"status"`
	WWWAuthenticate string   `json:"wwwAuthenticate"`
	Error           string   `json:"error"`
	Lines           []string `json:"lines"`
	Text            string   `json:"text"`
	State           string   `json:"state"`
	raw             string
}

// clientConfig is the config both socket clients understand (see
// python/client.py).
type clientConfig struct {
	URL         string            `json:"url"`
	Protocols   []string          `json:"protocols,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Origin      string            `json:"origin,omitempty"`
	Hello       bool              `json:"hello,omitempty"`
	RefreshBad  bool              `json:"refresh_bad,omitempty"`
	Refresh     string            `json:"refresh,omitempty"`
	PayloadSize int               `json:"payload_size,omitempty"`
	Flood       int               `json:"flood,omitempty"`
	TickMS      int               `json:"tick_ms,omitempty"`
	Close       []any             `json:"close,omitempty"`
	TimeoutMS   int               `json:"timeout_ms,omitempty"`
}

// run is one running client process.
type run struct {
	name   string
	cmd    *exec.Cmd
	events *journal[event]
	stderr bytes.Buffer // written by os/exec's copier; read after done
	done   chan struct{}
	err    error
}

// start runs c with cfg (marshalled to JSON). The process is killed if it
// outlives limit or the test.
func (c client) start(t *testing.T, cfg any, limit time.Duration) *run {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	args := append(append([]string(nil), c.argv[1:]...), string(js))
	r := &run{name: c.name, events: newJournal[event](), done: make(chan struct{})}
	r.cmd = exec.CommandContext(ctx, c.argv[0], args...)
	r.cmd.Env = append(os.Environ(), c.env...)
	r.cmd.Stderr = &r.stderr
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", c.name, err)
	}
	go func() {
		readLines(out, func(s string) {
			e := event{raw: s}
			if json.Unmarshal([]byte(s), &e) != nil {
				e = event{Event: "stdout", Text: s, raw: s}
			}
			r.events.add(e)
		})
		r.err = r.cmd.Wait()
		r.events.end()
		cancel()
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// next waits for the first event named name and returns it.
func (r *run) next(t *testing.T, name string, within time.Duration) event {
	t.Helper()
	var found event
	if !r.events.await(within, func(evs []event) bool {
		for _, e := range evs {
			if e.Event == name {
				found = e
				return true
			}
		}
		return false
	}) {
		t.Fatalf("%s: no %q event within %v; events:\n%s", r.name, name, within, r.transcript())
	}
	return found
}

// nextNamed waits for the first event named kind from page name
// (node/page.js tags its events with the page's name).
func (r *run) nextNamed(t *testing.T, kind, name string, within time.Duration) event {
	t.Helper()
	var found event
	if !r.events.await(within, func(evs []event) bool {
		for _, e := range evs {
			if e.Event == kind && e.Name == name {
				found = e
				return true
			}
		}
		return false
	}) {
		t.Fatalf("%s: no %q event for %s within %v; events:\n%s", r.name, kind, name, within, r.transcript())
	}
	return found
}

// wait waits for the client to exit and returns its events.
func (r *run) wait(t *testing.T, within time.Duration) []event {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(within):
		t.Fatalf("%s did not exit within %v; events:\n%s", r.name, within, r.transcript())
	}
	if r.err != nil {
		t.Errorf("%s: %v; events:\n%s", r.name, r.err, r.transcript())
	}
	return r.events.snapshot()
}

func (r *run) transcript() string {
	var b strings.Builder
	for _, e := range r.events.snapshot() {
		b.WriteString("  ")
		b.WriteString(e.raw)
		b.WriteByte('\n')
	}
	select {
	case <-r.done:
		if s := strings.TrimSpace(r.stderr.String()); s != "" {
			b.WriteString("  stderr: ")
			b.WriteString(s)
			b.WriteByte('\n')
		}
	default:
	}
	return b.String()
}

// find returns the events named name.
func find(evs []event, name string) []event {
	var out []event
	for _, e := range evs {
		if e.Event == name {
			out = append(out, e)
		}
	}
	return out
}
