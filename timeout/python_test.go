package timeout_test

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/timeout"
)

const python = "/usr/bin/python3"

// pyClient runs testdata/client.py and decodes its JSON line.
func pyClient(t *testing.T, out any, args ...string) {
	t.Helper()
	if err := exec.Command(python, "-c", "import websockets").Run(); err != nil {
		wstest.Missing(t, "python3-websockets", python+" cannot import websockets: "+err.Error())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{"testdata/client.py"}, args...)...)
	b, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("client.py: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("client.py: %v", err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("client.py output %q: %v", b, err)
	}
}

// In each read mode, Python websockets answers pings itself and stays connected through ten
// intervals and more.
func TestHeartbeatPythonClientStays(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		const interval, intervals = 100 * time.Millisecond, 12
		var pongs atomic.Int64
		enough := make(chan struct{})
		countPongs := policyFunc(func(c *lifecycle.Conn) {
			c.OnRTT(func(time.Duration) {
				if pongs.Add(1) == intervals {
					close(enough)
				}
			})
		})
		// The pong timeout is generous: the point is that a real client's
		// answers keep it alive, on a machine that may be heavily loaded.
		s := conntest.NewEchoServer(t, mode, countPongs, timeout.Heartbeat(interval, 20*interval))
		go func() {
			var c *lifecycle.Conn
			select {
			case c = <-s.Conns:
			case <-t.Context().Done(): // the client never came
				return
			}
			// Once enough pings were answered, tell the client to leave.
			select {
			case <-enough:
			case <-c.Done():
			}
			c.WriteMessage(lifecycle.TextMessage, []byte("done"))
			s.Conns <- c
		}()
		var out struct{ Reply string }
		pyClient(t, &out, "stay", s.URL)
		info := s.End(t)
		if out.Reply != "done" {
			t.Fatalf("reply %q", out.Reply)
		}
		if info.Initiator != lifecycle.InitiatorPeer || info.Code != lifecycle.StatusNormalClosure {
			t.Fatalf("info = %+v", info)
		}
		rtt := s.Conn(t).RTT()
		if rtt <= 0 {
			t.Fatalf("RTT = %v", rtt)
		}
		if n := pongs.Load(); n < intervals {
			t.Fatalf("%d pings answered", n)
		}
		t.Logf("%d pings answered over %v, last RTT %v", pongs.Load(), info.Duration, rtt)
	})
}

// In each read mode, real clients see each timer's close with a clean handshake.
func TestPythonClientSeesTimeoutCloses(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		const d = 300 * time.Millisecond
		cases := []struct {
			name   string
			server *conntest.TCPServer
			code   int
			reason string
			cause  error
		}{
			{"session expiry", conntest.NewEchoServer(t, mode, timeout.SessionExpiry(d)), 1008, "session expired", timeout.ErrSessionExpired},
			{"idle timeout", conntest.NewEchoServer(t, mode, timeout.IdleTimeout(d)), 1001, "idle timeout", timeout.ErrIdleTimeout},
			{"init timeout", conntest.NewEchoServer(t, mode, timeout.InitTimeout(d)), 4408, "connection initialisation timeout", timeout.ErrInitTimeout},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var out struct {
					Code         *int
					Reason       string
					Sent         *int
					RcvdThenSent bool `json:"rcvd_then_sent"`
				}
				pyClient(t, &out, "wait", tc.server.URL)
				if out.Code == nil || *out.Code != tc.code || out.Reason != tc.reason {
					t.Fatalf("client received %+v, want %d %q", out, tc.code, tc.reason)
				}
				if out.Sent == nil || *out.Sent != tc.code || !out.RcvdThenSent {
					t.Fatalf("client did not complete the handshake: %+v", out)
				}
				info := tc.server.End(t)
				if info.Code != lifecycle.StatusCode(tc.code) || info.Initiator != lifecycle.InitiatorLocal ||
					!errors.Is(info.Cause, tc.cause) || info.Received == nil {
					t.Fatalf("server info = %+v", info)
				}
				if info.Duration < d {
					t.Fatalf("closed after %v, before %v", info.Duration, d)
				}
			})
		}
	})
}
