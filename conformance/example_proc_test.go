package conformance

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// logLine is one line the example wrote to stderr: a JSON slog record, or
// raw text when it is not JSON.
type logLine struct {
	raw string
	rec map[string]any
}

func (l logLine) str(key string) string {
	s, _ := l.rec[key].(string)
	return s
}

// closedLine is one "ws closed" log line.
type closedLine struct {
	Code      int
	Reason    string
	Initiator string
	Cause     string
	Duration  time.Duration
	Subject   string
	raw       string
}

func (c closedLine) String() string { return c.raw }

// example is a running example server.
type example struct {
	name    string
	mode    string // its -read-mode
	cmd     *exec.Cmd
	base    string // http://127.0.0.1:PORT
	wsURL   string // ws://127.0.0.1:PORT/ws
	stdout  *journal[string]
	stderr  *journal[logLine]
	exited  chan struct{}
	waitErr error

	mu       sync.Mutex
	consumed map[int]bool // indexes into stderr of matched "ws closed" lines
	tokens   []string     // every token handed out, to prove none is logged
	signaled bool
}

var (
	bannerURL = regexp.MustCompile(`listening on (http://[^\s/]+)`)
	jwtLike   = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)
)

// startExample builds and starts the example on a free 127.0.0.1 port with
// JSON logs and the given flags, and waits until it serves /healthz.
func startExample(t *testing.T, name string, flags ...string) *example {
	t.Helper()
	bin := exampleBinary(t)
	args := append([]string{"-addr", "127.0.0.1:0", "-log-format", "json"}, flags...)
	ex := &example{
		name:     name,
		cmd:      exec.Command(bin, args...),
		stdout:   newJournal[string](),
		stderr:   newJournal[logLine](),
		exited:   make(chan struct{}),
		consumed: map[int]bool{},
	}
	ex.cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	outPipe, err := ex.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errPipe, err := ex.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.cmd.Start(); err != nil {
		t.Fatalf("start example: %v", err)
	}
	t.Logf("example %s: %s %s (pid %d)", name, filepath.Base(bin), strings.Join(args, " "), ex.cmd.Process.Pid)
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		readLines(outPipe, func(s string) { ex.stdout.add(s) })
		ex.stdout.end()
	}()
	go func() {
		defer readers.Done()
		readLines(errPipe, func(s string) {
			l := logLine{raw: s}
			if json.Unmarshal([]byte(s), &l.rec) != nil {
				l.rec = nil
			}
			ex.stderr.add(l)
		})
		ex.stderr.end()
	}()
	go func() {
		readers.Wait() // Wait only after the pipes are drained (os/exec's rule)
		ex.waitErr = ex.cmd.Wait()
		close(ex.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-ex.exited:
		default:
			ex.cmd.Process.Kill()
			<-ex.exited
		}
		ex.saveLog(t)
	})

	var base string
	if !ex.stdout.await(15*time.Second, func(lines []string) bool {
		for _, l := range lines {
			if m := bannerURL.FindStringSubmatch(l); m != nil {
				base = m[1]
				return true
			}
		}
		return false
	}) {
		t.Fatalf("example %s printed no banner URL; stdout %q; stderr:\n%s", name, ex.stdout.snapshot(), ex.stderrText())
	}
	ex.base = base
	ex.wsURL = "ws" + strings.TrimPrefix(base, "http") + "/ws"
	ex.waitHealthy(t)
	return ex
}

// readModes are the example's -read-mode values: every group that drives
// /ws plays each of its scenarios in both, with the same expectations.
var readModes = []string{"goroutine", "events"}

// startExamples starts one example per read mode, named name-MODE, with
// the contract's flags (see withContractFlags) and -read-mode MODE.
func startExamples(t *testing.T, name string, flags ...string) []*example {
	t.Helper()
	var exs []*example
	for _, mode := range readModes {
		ex := startExample(t, name+"-"+mode, withContractFlags(t, append(append([]string(nil), flags...), "-read-mode", mode)...)...)
		ex.mode = mode
		if !ex.stderr.await(5*time.Second, func(lines []logLine) bool {
			for _, l := range lines {
				if l.str("msg") == "read mode" && l.str("read_mode") == mode {
					return true
				}
			}
			return false
		}) {
			t.Errorf("example %s did not log \"read mode\" with read_mode %q", ex.name, mode)
		}
		exs = append(exs, ex)
	}
	return exs
}

func readLines(r io.Reader, f func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f(sc.Text())
	}
	io.Copy(io.Discard, r) // a line too long: drain so the process never blocks
}

func (ex *example) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(ex.base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("example %s: /healthz not ready: %v", ex.name, err)
		}
		select {
		case <-ex.exited:
			t.Fatalf("example %s exited early: %v\n%s", ex.name, ex.waitErr, ex.stderrText())
		case <-time.After(20 * time.Millisecond): // polling an observable condition
		}
	}
}

// bannerTokenErr returns the demo token printed on stdout, waiting
// briefly for it.
func (ex *example) bannerTokenErr() (string, error) {
	var tok string
	ex.stdout.await(5*time.Second, func(lines []string) bool {
		for _, l := range lines {
			if strings.Contains(strings.ToLower(l), "token") {
				if m := jwtLike.FindString(l); m != "" {
					tok = m
					return true
				}
			}
		}
		return false
	})
	if tok == "" {
		return "", fmt.Errorf("example %s printed no demo token line on stdout: %q", ex.name, ex.stdout.snapshot())
	}
	ex.remember(tok)
	return tok, nil
}

func (ex *example) remember(tok string) {
	ex.mu.Lock()
	ex.tokens = append(ex.tokens, tok)
	ex.mu.Unlock()
}

// tokenErr gets a demo token for sub from GET /token.
func (ex *example) tokenErr(sub, ttl string) (string, error) {
	q := url.Values{"sub": {sub}, "ttl": {ttl}}
	res, err := http.Get(ex.base + "/token?" + q.Encode())
	if err != nil {
		return "", fmt.Errorf("GET /token: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /token?sub=%s&ttl=%s: %s %q (is the auth part wired?)", sub, ttl, res.Status, body)
	}
	tok := strings.TrimSpace(string(body))
	if strings.HasPrefix(tok, "{") {
		var j struct {
			Token       string `json:"token"`
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(body, &j); err != nil {
			return "", fmt.Errorf("GET /token: %v in %q", err, body)
		}
		tok = j.Token + j.AccessToken
	}
	if tok == "" {
		return "", fmt.Errorf("GET /token: no token in %q", body)
	}
	ex.remember(tok)
	return tok, nil
}

// token is tokenErr for the test goroutine.
func (ex *example) token(t *testing.T, sub, ttl string) string {
	t.Helper()
	tok, err := ex.tokenErr(sub, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// revokeErr asks the example to close every connection of sub.
func (ex *example) revokeErr(sub string) error {
	res, err := http.Post(ex.base+"/admin/revoke?"+url.Values{"sub": {sub}}.Encode(), "text/plain", nil)
	if err != nil {
		return fmt.Errorf("POST /admin/revoke: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("POST /admin/revoke?sub=%s: %s %q", sub, res.Status, body)
	}
	return nil
}

// closed waits for the next unmatched "ws closed" line of subject and marks
// it matched, so every connection accounts for exactly one line.
func (ex *example) closed(t *testing.T, subject string) closedLine {
	t.Helper()
	var found closedLine
	ok := ex.stderr.await(10*time.Second, func(lines []logLine) bool {
		ex.mu.Lock()
		defer ex.mu.Unlock()
		for i, l := range lines {
			if l.str("msg") != "ws closed" || ex.consumed[i] || l.str("subject") != subject {
				continue
			}
			ex.consumed[i] = true
			found = parseClosed(l)
			return true
		}
		return false
	})
	if !ok {
		t.Fatalf("example %s logged no \"ws closed\" line for subject %q; stderr:\n%s", ex.name, subject, ex.stderrText())
	}
	return found
}

func parseClosed(l logLine) closedLine {
	c := closedLine{
		Reason:    l.str("reason"),
		Initiator: l.str("initiator"),
		Cause:     l.str("cause"),
		Subject:   l.str("subject"),
		raw:       l.raw,
	}
	if n, ok := l.rec["code"].(float64); ok {
		c.Code = int(n)
	} else {
		c.Code = -1 // not a number: the contract says it must be
	}
	c.Duration, _ = time.ParseDuration(l.str("duration"))
	return c
}

// sigtermErr asks the example to shut down gracefully.
func (ex *example) sigtermErr() error {
	ex.mu.Lock()
	ex.signaled = true
	ex.mu.Unlock()
	return ex.cmd.Process.Signal(syscall.SIGTERM)
}

// sigterm is sigtermErr for the test goroutine.
func (ex *example) sigterm(t *testing.T) {
	t.Helper()
	if err := ex.sigtermErr(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
}

// waitExit waits for the example to exit and returns its exit code.
func (ex *example) waitExit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-ex.exited:
	case <-time.After(within):
		t.Fatalf("example %s did not exit within %v", ex.name, within)
	}
	var ee *exec.ExitError
	switch {
	case ex.waitErr == nil:
		return 0
	case errors.As(ex.waitErr, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("example %s: %v", ex.name, ex.waitErr)
		return -1
	}
}

// finish ends the example (SIGTERM unless already sent), expects exit code
// 0, and checks the whole log: no "ws closed" line left unmatched (so each
// connection logged exactly one), no token and no access_token query in
// any line, no panic.
func (ex *example) finish(t *testing.T) {
	t.Helper()
	ex.mu.Lock()
	signaled := ex.signaled
	ex.mu.Unlock()
	if !signaled {
		ex.sigterm(t)
	}
	if code := ex.waitExit(t, 15*time.Second); code != 0 {
		t.Errorf("example %s exit code = %d, want 0", ex.name, code)
	}
	lines := ex.stderr.snapshot()
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for i, l := range lines {
		if l.str("msg") == "ws closed" && !ex.consumed[i] {
			t.Errorf("example %s: unexpected extra \"ws closed\" line (one per connection): %s", ex.name, l.raw)
		}
		if l.rec == nil && strings.TrimSpace(l.raw) != "" {
			t.Errorf("example %s: stderr line is not JSON: %s", ex.name, l.raw)
		}
		for _, tok := range ex.tokens {
			if strings.Contains(l.raw, tok) || strings.Contains(l.raw, tokenSignature(tok)) {
				t.Errorf("example %s logged a token: %s", ex.name, l.raw)
			}
		}
		if strings.Contains(l.raw, "access_token=") {
			t.Errorf("example %s logged a query string with a token: %s", ex.name, l.raw)
		}
		if strings.Contains(l.raw, "panic") {
			t.Errorf("example %s: %s", ex.name, l.raw)
		}
	}
}

// tokenSignature is a JWT's last part, which alone would leak a token.
func tokenSignature(tok string) string {
	if i := strings.LastIndexByte(tok, '.'); i >= 0 && len(tok)-i > 8 {
		return tok[i+1:]
	}
	return tok
}

// jwtSubject reads the unverified "sub" claim of a JWT (tests only).
func jwtSubject(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	json.Unmarshal(payload, &claims)
	return claims.Sub
}

func (ex *example) stderrText() string {
	var b strings.Builder
	for _, l := range ex.stderr.snapshot() {
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// saveLog writes the example's stdout and stderr to the artifacts folder.
func (ex *example) saveLog(t *testing.T) {
	dir := artifactsDir(t)
	text := fmt.Sprintf("# stdout\n%s\n# stderr\n%s", strings.Join(ex.stdout.snapshot(), "\n"), ex.stderrText())
	if err := os.WriteFile(filepath.Join(dir, "example-"+ex.name+".log"), []byte(text), 0o644); err != nil {
		t.Logf("saving the example's log: %v", err)
	}
}

// artifactsDir is where screenshots and logs go: $WSMW_ARTIFACTS, or
// testdata/artifacts (git-ignored).
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("WSMW_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts dir: %v", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
