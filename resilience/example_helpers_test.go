package resilience_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/wstest"
)

// programs holds the example binary, built once per test run; TestMain
// removes it.
var programs wstest.Programs

// exampleBinary builds ../example (as the working tree has it) once.
func exampleBinary(t *testing.T) string {
	t.Helper()
	return programs.Build(t, filepath.Join("..", "example"))
}

// plainHTTP makes one connection per request, so that no keep-alive
// goroutine outlives a test.
var plainHTTP = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

// example is a running example server.
type example struct {
	base    string // http://127.0.0.1:PORT/
	host    string // 127.0.0.1:PORT
	pid     int
	logs    string // path of its stderr (JSON logs)
	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has exited
	exitErr error         // valid after exited
	exitAt  time.Time     // valid after exited
}

// startExample runs the example with -addr 127.0.0.1:0, JSON logs and
// args, and stops it (SIGINT, as a user would) when the test ends; that it
// exited before is an error.
func startExample(t *testing.T, args ...string) *example {
	t.Helper()
	return launch(t, false, args...)
}

// launch runs the example with -addr 127.0.0.1:0, JSON logs and args, and
// returns once its banner names its address. When the test ends, a
// process still running is interrupted and must exit 0 within 20 s; one
// that has exited already is an error unless mayHaveExited.
func launch(t *testing.T, mayHaveExited bool, args ...string) *example {
	t.Helper()
	bin := exampleBinary(t)
	logs := filepath.Join(t.TempDir(), "stderr.json")
	stderr, err := os.Create(logs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-log-format", "json"}, args...)...)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stderr.Close() // the child has its own descriptor
	ex := &example{pid: cmd.Process.Pid, logs: logs, cmd: cmd, exited: make(chan struct{})}
	banner := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "wsmw example listening on "); ok && !found {
				found = true
				banner <- rest
			}
		}
		close(banner)
		ex.exitErr = cmd.Wait() // after stdout is drained, as exec wants
		ex.exitAt = time.Now()
		close(ex.exited)
	}()
	t.Cleanup(func() { ex.stop(t, mayHaveExited) })
	select {
	case base, ok := <-banner:
		if !ok {
			<-ex.exited
			t.Fatalf("the example exited without a banner (%v); stderr:\n%s", ex.exitErr, ex.tail())
		}
		ex.base = base
		ex.host = strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/")
	case <-time.After(30 * time.Second):
		t.Fatal("no banner from the example within 30s")
	}
	return ex
}

// stop interrupts the example and waits for it to exit 0. That it had
// exited already is an error unless mayHaveExited.
func (ex *example) stop(t *testing.T, mayHaveExited bool) {
	select {
	case <-ex.exited:
		if !mayHaveExited {
			t.Errorf("the example had exited before the end of the test: %v; stderr:\n%s", ex.exitErr, ex.tail())
		}
		return
	default:
	}
	ex.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-ex.exited:
		if ex.exitErr != nil {
			t.Errorf("the example exited with %v after SIGINT; stderr:\n%s", ex.exitErr, ex.tail())
		}
	case <-time.After(20 * time.Second):
		ex.cmd.Process.Kill()
		<-ex.exited
		t.Errorf("the example did not exit within 20s of SIGINT")
	}
}

func (ex *example) wsURL() string { return "ws://" + ex.host + "/ws" }

// token asks the example for a demo token.
func (ex *example) token(t *testing.T, sub string) string {
	t.Helper()
	resp, err := plainHTTP.Get(ex.base + "token?sub=" + sub + "&ttl=10m")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		t.Fatalf("GET /token: status %d, %v", resp.StatusCode, err)
	}
	return body.Token
}

// openFiles counts the example's open file descriptors.
func (ex *example) openFiles(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", ex.pid))
	if err != nil {
		t.Skipf("cannot count the example's open files: %v", err)
	}
	return len(entries)
}

// logLines returns the example's JSON log records with message msg.
func (ex *example) logLines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	f, err := os.Open(ex.logs)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// tail returns the end of the example's stderr.
func (ex *example) tail() string {
	f, err := os.Open(ex.logs)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > 4096 {
		f.Seek(-4096, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// readModes are the example's -read-mode values: the tests that drive
// its /ws run in each.
var readModes = []string{"goroutine", "events"}

// forEachReadMode runs f in a parallel subtest per read mode, named by it,
// with the flags that select it. For tests that load the machine: each
// mode takes a -parallel slot of its own.
func forEachReadMode(t *testing.T, f func(t *testing.T, mode []string)) {
	for _, m := range readModes {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			f(t, []string{"-read-mode", m})
		})
	}
}

// forEachReadModeAtOnce is forEachReadMode for tests that mostly wait: the
// modes' subtests run at the same time within the caller's -parallel slot
// (t.Run from goroutines of their own).
func forEachReadModeAtOnce(t *testing.T, f func(t *testing.T, mode []string)) {
	var wg sync.WaitGroup
	for _, m := range readModes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(m, func(t *testing.T) { f(t, []string{"-read-mode", m}) })
		}()
	}
	wg.Wait()
}
