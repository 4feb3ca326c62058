package timeout_test

import (
	"errors"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/timeout"
)

// A client that stays connected but never answers pings is found within
// interval + timeout over real TCP.
func TestHeartbeatDetectsSilentSocket(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		const interval, wait = 100 * time.Millisecond, 100 * time.Millisecond
		for _, reads := range []bool{true, false} {
			name := map[bool]string{true: "reads and ignores", false: "never reads"}[reads]
			t.Run(name, func(t *testing.T) {
				s := conntest.NewEchoServer(t, mode, timeout.Heartbeat(interval, wait))
				raw := s.DialRaw(t)
				s.Conn(t)
				if !reads {
					info := s.End(t)
					checkDetected(t, info, interval+wait)
					return
				}
				frames, err := raw.WaitEOF(10 * time.Second)
				if err != nil {
					t.Fatalf("server did not close TCP: %v", err)
				}
				info := s.End(t)
				checkDetected(t, info, interval+wait)
				if len(frames) < 2 || frames[0].Op != wstest.OpPing {
					t.Fatalf("frames = %+v", frames)
				}
				last := frames[len(frames)-1]
				if last.Op != wstest.OpClose || last.CloseCode() != 1011 || last.CloseReason() != "keepalive ping timeout" {
					t.Fatalf("last frame = op %d %d %q", last.Op, last.CloseCode(), last.CloseReason())
				}
			})
		}
	})
}

func checkDetected(t *testing.T, info lifecycle.CloseInfo, bound time.Duration) {
	t.Helper()
	if !errors.Is(info.Cause, timeout.ErrPongTimeout) || info.Code != lifecycle.StatusAbnormalClosure || info.Initiator != lifecycle.InitiatorAbnormal {
		t.Fatalf("info = %+v", info)
	}
	// Not before interval + timeout; after it, only scheduling delay is
	// allowed (generous: CI machines under -race can be heavily loaded).
	if info.Duration < bound || info.Duration > bound+time.Second {
		t.Fatalf("detected after %v, want %v", info.Duration, bound)
	}
	t.Logf("dead peer detected after %v (interval + timeout = %v)", info.Duration, bound)
}
