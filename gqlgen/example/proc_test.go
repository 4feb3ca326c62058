package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/wstest"
)

// programs holds the example binary, built once per test binary; TestMain
// removes it.
var programs wstest.Programs

// exampleProc is a running example.
type exampleProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string // host:port
	stderr *wstest.Buffer
	exited chan error
}

func startExample(t *testing.T, args ...string) *exampleProc {
	t.Helper()
	bin := programs.Build(t, ".")
	p := &exampleProc{t: t, stderr: new(wstest.Buffer), exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-log-format", "json"}, args...)...)
	p.cmd.Stderr = p.stderr
	lines := make(chan string, 1)
	p.cmd.Stdout = &firstLine{ch: lines}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case err := <-p.exited:
			p.exited <- err
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	go func() { p.exited <- p.cmd.Wait() }()
	select {
	case line := <-lines:
		const prefix = "wsmw gqlgen example listening on http://"
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("banner %q, want %q…; stderr:\n%s", line, prefix, p.stderr)
		}
		p.addr = strings.TrimSuffix(strings.TrimPrefix(line, prefix), "/query")
	case <-time.After(30 * time.Second):
		t.Fatalf("no banner within 30s; stderr:\n%s", p.stderr)
	}
	return p
}

func (p *exampleProc) url() string { return "ws://" + p.addr + "/query" }

// token fetches a demo token from GET /token.
func (p *exampleProc) token(sub string, ttl time.Duration) string {
	p.t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s/token?sub=%s&ttl=%s", p.addr, sub, ttl))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		p.t.Fatalf("GET /token: %v %+v", err, body)
	}
	return body.Token
}

// closedLines returns the example's "ws closed" log lines.
func (p *exampleProc) closedLines() []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "ws closed" {
			out = append(out, m)
		}
	}
	return out
}

// firstLine sends the first line written to it (the banner's, which names
// the address) and discards the rest.
type firstLine struct {
	ch   chan<- string
	buf  []byte
	sent bool
}

func (f *firstLine) Write(p []byte) (int, error) {
	if !f.sent {
		f.buf = append(f.buf, p...)
		if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
			f.ch <- string(f.buf[:i])
			f.sent, f.buf = true, nil
		}
	}
	return len(p), nil
}

// sigterm stops the example and returns its exit error.
func (p *exampleProc) sigterm() error {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.exited <- err // for Cleanup
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatal("example still running 30s after SIGTERM")
	}
	return nil
}
