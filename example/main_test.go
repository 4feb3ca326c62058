package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/wsmw/wsmw/internal/wstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		programs.Remove()
		os.Exit(code)
	}))
}

// programs holds the example's binary, built once per test binary for the
// tests that run it as a user would; TestMain removes it.
var programs wstest.Programs

// TestCtrlCClosesClientsWith1001 runs the example as a user would, connects
// a client, sends SIGINT and checks that the client sees 1001 "server
// shutting down" and that the process exits 0.
func TestCtrlCClosesClientsWith1001(t *testing.T) {
	bin := programs.Build(t, ".")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0", "-shutdown-timeout", "5s")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	base := readBaseURL(t, stdout)
	go io.Copy(io.Discard, stdout)

	header := http.Header{}
	if token := demoToken(base); token != "" {
		header.Set("Authorization", "Bearer "+token)
	}
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"ws", header)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte("ping?")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "ping?" {
		t.Fatalf("echo: %q %v", msg, err)
	}
	cmd.Process.Signal(syscall.SIGINT)
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err = ws.ReadMessage() // gorilla's client echoes the Close
	ce, ok := err.(*websocket.CloseError)
	if !ok || ce.Code != 1001 || ce.Text != "server shutting down" {
		t.Fatalf("client saw %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
}

func readBaseURL(t *testing.T, stdout io.Reader) string {
	t.Helper()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "wsmw example listening on "); ok {
			return rest
		}
	}
	t.Fatal("no banner on stdout")
	return ""
}

// demoToken asks the example for a demo token, "" when it has no auth.
func demoToken(base string) string {
	resp, err := http.Get(base + "token?sub=ctrl-c&ttl=1m")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	b, _ := io.ReadAll(resp.Body)
	return extractToken(string(b))
}

// extractToken accepts a bare token or a JSON object with a "token" field.
func extractToken(body string) string {
	body = strings.TrimSpace(body)
	if i := strings.Index(body, `"token"`); i >= 0 {
		rest := body[i+len(`"token"`):]
		if j := strings.Index(rest, `"`); j >= 0 {
			rest = rest[j+1:]
			if k := strings.Index(rest, `"`); k >= 0 {
				return rest[:k]
			}
		}
	}
	return body
}
