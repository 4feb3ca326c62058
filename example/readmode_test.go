package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/wstest"
)

// readModes are the values of -read-mode.
var readModes = []string{readGoroutine, readEvents}

// forEachReadMode runs f as a subtest per read mode, in parallel, with the
// flag that selects it.
func forEachReadMode(t *testing.T, f func(t *testing.T, flags []string)) {
	for _, mode := range readModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			f(t, []string{"-read-mode", mode})
		})
	}
}

// TestUnknownReadModeExits2 checks that a -read-mode the example does not
// know is refused like an unknown -log-format: exit 2 and a message.
func TestUnknownReadModeExits2(t *testing.T) {
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-read-mode", "epoll"}, io.Discard, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), `unknown -read-mode "epoll"`) {
		t.Fatalf("exit %d, stderr %q; want 2 and a message naming the value", code, stderr.String())
	}
}

// TestReadModes serves /ws in each read mode with the same behaviour:
// text, binary and a message larger than the event mode's read buffer are
// echoed, an oversized message closes with 1009 and is logged once, and
// the banner and log name the mode. In goroutine mode each connection is
// read by a goroutine of its own running the echo loop; in event mode no
// goroutine waits on an idle connection.
func TestReadModes(t *testing.T) {
	for _, mode := range readModes {
		t.Run(mode, func(t *testing.T) {
			base, logs := startExample(t, "-read-mode", mode, "-max-message-size", "16384")
			header := http.Header{"Authorization": {"Bearer " + getToken(t, base, "mode-"+mode, "1m")}}
			ws, _, err := dialWS(t, base, "", header)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []struct {
				mt   int
				data []byte
			}{
				{websocket.TextMessage, []byte("hello")},
				{websocket.BinaryMessage, []byte{0, 1, 2, 0xff}},
				{websocket.TextMessage, bytes.Repeat([]byte("x"), 10000)}, // over the 8 KiB event buffer
			} {
				if err := ws.WriteMessage(m.mt, m.data); err != nil {
					t.Fatal(err)
				}
				ws.SetReadDeadline(time.Now().Add(5 * time.Second))
				mt, got, err := ws.ReadMessage()
				if err != nil || mt != m.mt || !bytes.Equal(got, m.data) {
					t.Fatalf("echo of %d bytes: type %d, %d bytes, %v", len(m.data), mt, len(got), err)
				}
			}
			if n, want := echoLoops(), map[string]int{readGoroutine: 1, readEvents: 0}[mode]; n != want {
				t.Errorf("%d goroutines run the echo loop for one connection, want %d", n, want)
			}
			ws.WriteMessage(websocket.BinaryMessage, make([]byte, 17000))
			ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, _, err := ws.ReadMessage(); err == nil {
				t.Fatal("an oversized message was echoed")
			} else if code, reason := closeOf(err); code != 1009 || reason != "message too big" {
				t.Fatalf("oversized: %d %q, want 1009 message too big", code, reason)
			}
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(logs.String(), `"msg":"ws closed"`) && time.Now().Before(deadline) {
				pollPause() // polling an observable condition with a deadline
			}
			out := logs.String()
			if n := strings.Count(out, `"msg":"ws closed"`); n != 1 || !strings.Contains(out, `"code":1009`) {
				t.Errorf("%d \"ws closed\" lines, want one with code 1009:\n%s", n, out)
			}
			if !strings.Contains(out, `"read_mode":"`+mode+`"`) {
				t.Errorf("the log does not name the read mode %s", mode)
			}
		})
	}
}

// echoLoops counts the goroutines running the goroutine mode's echo loop.
func echoLoops() int { return wstest.CountGoroutines("example.(*app).echo(")[0] }
