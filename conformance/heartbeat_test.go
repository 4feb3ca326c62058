package conformance

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHeartbeatDeadPeer, in each read mode, freezes a connected real client with SIGSTOP (its
// kernel still ACKs, but nobody answers pings): the server's heartbeat
// must find it dead and log code 1006, initiator abnormal, cause
// "keepalive ping timeout".
func TestHeartbeatDeadPeer(t *testing.T) {
	t.Parallel()
	clients := map[string]func(*testing.T) client{"python": pythonClient, "node": nodeClient}
	for _, ex := range startExamples(t, "heartbeat",
		"-ping-interval", "300ms",
		"-pong-timeout", "1s",
		"-idle-timeout", "1m",
		"-session-expiry", "1m",
		"-shutdown-timeout", "5s",
	) {
		t.Run(ex.mode, func(t *testing.T) {
			for _, name := range []string{"python", "node"} {
				t.Run(name, func(t *testing.T) {
					c := clients[name](t)
					sub := "heartbeat-" + ex.mode + "-" + name
					tok := ex.token(t, sub, "1m")
					r := c.start(t, clientConfig{URL: ex.wsURL, Protocols: []string{"bearer", tok}, Hello: true, TimeoutMS: 20000}, 25*time.Second)
					r.next(t, "ready", 10*time.Second)
					if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
						t.Fatal(err)
					}
					// SIGKILL ends a stopped process too; the run's cleanup does it.
					line := ex.closed(t, sub)
					if line.Code != 1006 || line.Initiator != "abnormal" || !strings.Contains(line.Cause, "keepalive ping timeout") {
						t.Errorf("server logged %s; want code=1006 initiator=abnormal cause \"keepalive ping timeout\"", line)
					}
					if line.Duration > 5*time.Second {
						t.Errorf("dead peer found after %v, want about 1.3s", line.Duration)
					}
					r.cmd.Process.Kill()
				})
			}
			ex.finish(t)
		})
	}
}
