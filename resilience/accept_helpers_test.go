package resilience_test

// Helpers for the process-level acceptance tests of issues 13 and 14
// (accept_*_test.go): an example process that a test may signal and watch
// exit, the example's "ws closed" lines by subject, the admin endpoint, the
// process's CPU time, and tokens minted with the demo secret.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/internal/wstest"
)

// demoSecret and demoIssuer are the example's (example/auth.go): anyone
// may mint tokens with them, which is what a test of refused tokens needs.
const (
	demoSecret = "wsmw-demo-secret-do-not-use-in-production"
	demoIssuer = "wsmw-example"
)

// proc is an example process that the test may signal itself: unlike
// startExample's, its cleanup accepts that the process has already exited.
type proc struct {
	*example
}

// startProc runs the example with -addr 127.0.0.1:0, JSON logs and args.
// When the test ends, a process still running is interrupted and must exit
// 0 within 20 s.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	return &proc{launch(t, true, args...)}
}

// bearer returns an Authorization header with a demo token for sub.
func (p *proc) bearer(t *testing.T, sub string) http.Header {
	t.Helper()
	return http.Header{"Authorization": {"Bearer " + p.token(t, sub)}}
}

// closedLine is one "ws closed" log line.
type closedLine struct {
	Code      int
	Reason    string
	Initiator string
	Cause     string
	Duration  time.Duration
	Subject   string
}

func (l closedLine) String() string {
	return fmt.Sprintf("code=%d reason=%q initiator=%s cause=%q duration=%v", l.Code, l.Reason, l.Initiator, l.Cause, l.Duration)
}

// closedLines returns the example's "ws closed" lines by subject, in the
// order they were logged.
func (p *proc) closedLines(t *testing.T) map[string][]closedLine {
	t.Helper()
	out := map[string][]closedLine{}
	for _, rec := range p.logLines(t, "ws closed") {
		l := closedLine{}
		if f, ok := rec["code"].(float64); ok {
			l.Code = int(f)
		} else {
			l.Code = -1 // not a number: the contract says it is one
		}
		l.Reason, _ = rec["reason"].(string)
		l.Initiator, _ = rec["initiator"].(string)
		l.Cause, _ = rec["cause"].(string)
		l.Subject, _ = rec["subject"].(string)
		if s, ok := rec["duration"].(string); ok {
			l.Duration, _ = time.ParseDuration(s)
		}
		out[l.Subject] = append(out[l.Subject], l)
	}
	return out
}

// closedFor waits (a bounded poll of the log file, which nothing
// announces) for the "ws closed" line of subject and returns it; ok is
// false when none came within d.
func (p *proc) closedFor(t *testing.T, subject string, d time.Duration) (closedLine, bool) {
	t.Helper()
	var got []closedLine
	wstest.Eventually(d, func() bool {
		got = p.closedLines(t)[subject]
		return len(got) > 0
	})
	if len(got) == 0 {
		return closedLine{}, false
	}
	return got[0], true
}

// post sends POST path (with an Origin header when origin is not empty)
// and returns the status and body.
func (p *proc) post(t *testing.T, path, origin string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.base+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := plainHTTP.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// signal sends sig to the process and returns when it was sent.
func (p *proc) signal(t *testing.T, sig os.Signal) time.Time {
	t.Helper()
	at := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	return at
}

// waitExit waits up to d for the process to exit; past d it kills it.
// It returns the exit code (-1 when killed) and when it exited.
func (p *proc) waitExit(d time.Duration) (code int, at time.Time, killed bool) {
	select {
	case <-p.exited:
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.exited
		killed = true
	}
	code = 0
	var ee *exec.ExitError
	if errors.As(p.exitErr, &ee) {
		code = ee.ExitCode()
	} else if p.exitErr != nil {
		code = -1
	}
	return code, p.exitAt, killed
}

// cpuTime returns the CPU time (user + system) the process has used so
// far, from /proc/PID/stat.
func (p *proc) cpuTime() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'. There, utime and stime (fields 14
	// and 15 of proc(5)) are the 12th and 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat: %q", p.pid, b)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat: %q", p.pid, b)
	}
	return time.Duration(utime+stime) * time.Second / time.Duration(clockTicks()), nil
}

// clockTicks returns the kernel's USER_HZ (AT_CLKTCK in the auxiliary
// vector), 100 when it cannot be read.
func clockTicks() int64 {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	const atClkTck = 17
	for i := 0; i+16 <= len(b); i += 16 {
		if binary.NativeEndian.Uint64(b[i:]) == atClkTck {
			if v := int64(binary.NativeEndian.Uint64(b[i+8:])); v > 0 {
				return v
			}
		}
	}
	return 100
}

// mint signs an HS256 token with the demo secret and exactly claims.
func mint(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(demoSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// describeFrames says what a client read: each frame's opcode, and a
// Close frame's code and reason; a long list is cut in the middle.
func describeFrames(frames []wstest.Frame) string {
	if len(frames) == 0 {
		return "no frame"
	}
	var parts []string
	for i, f := range frames {
		if len(frames) > 10 && i >= 8 && i < len(frames)-1 {
			if i == 8 {
				parts = append(parts, fmt.Sprintf("… %d more", len(frames)-9))
			}
			continue
		}
		parts = append(parts, describeFrame(f))
	}
	return strings.Join(parts, ", ")
}

func describeFrame(f wstest.Frame) string {
	switch f.Op {
	case wstest.OpClose:
		if len(f.Payload) < 2 {
			return fmt.Sprintf("Close with a %d-byte payload", len(f.Payload))
		}
		return fmt.Sprintf("Close %d %q", f.CloseCode(), f.CloseReason())
	case wstest.OpText:
		return fmt.Sprintf("text %q", truncate(string(f.Payload), 40))
	case wstest.OpBinary:
		return fmt.Sprintf("binary (%d bytes)", len(f.Payload))
	case wstest.OpPing:
		return "ping"
	case wstest.OpPong:
		return "pong"
	}
	return fmt.Sprintf("opcode %#x", f.Op)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// closeFrameIn returns the first Close frame among frames.
func closeFrameIn(frames []wstest.Frame) (wstest.Frame, bool) {
	for _, f := range frames {
		if f.Op == wstest.OpClose {
			return f, true
		}
	}
	return wstest.Frame{}, false
}

// readAll reads frames until an error (EOF, a reset, the deadline) and
// returns them with the error.
func readAll(rc *wstest.RawClient, d time.Duration) ([]wstest.Frame, error) {
	var frames []wstest.Frame
	deadline := time.Now().Add(d)
	for {
		f, err := rc.ReadFrame(time.Until(deadline))
		if err != nil {
			return frames, err
		}
		frames = append(frames, f)
	}
}
