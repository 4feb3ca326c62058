package resilience_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/wstest"
)

// frameCase is one raw frame sent to the example on a fresh connection,
// with the Close frame the server must answer and the "ws closed" line it
// must log.
type frameCase struct {
	name      string
	subject   string
	frame     []byte
	code      int
	reason    string // logged
	wire      string // the reason of the Close frame on the wire
	initiator string
	cause     string // the logged cause must start with it
}

// TestExampleMalformedFramesGet1002 sends the example (default flags) two
// frames that RFC 6455 makes protocol errors, each on its own connection,
// and checks both sides: the client reads a Close frame 1002 with the
// documented reason, and the example logs that very code and reason as a
// local close (issue 13, items 3 and 4). A well-formed Close is the
// control: its code is echoed (without the reason) and it is logged as the
// peer's.
//
//   - a Close frame with a 1-byte payload (§5.5.1; Autobahn 7.3.2): 1002
//     "close frame too short";
//   - a data frame whose 64-bit extended length has the top bit set
//     (§5.2: "the most significant bit MUST be 0"): 1002 "invalid frame
//     length", and the log must name what the wire carried.
func TestExampleMalformedFramesGet1002(t *testing.T) {
	t.Parallel()
	forEachReadModeAtOnce(t, func(t *testing.T, mode []string) {
		ex := startProc(t, mode...)
		cases := []frameCase{
			{
				name: "well-formed Close 1000 (control)", subject: "frames-close-1000",
				frame: wstest.AppendFrame(nil, wstest.OpClose, true, []byte{0x03, 0xe8, 'b', 'y', 'e'}),
				code:  1000, reason: "bye", wire: "", initiator: "peer", cause: "peer closed the connection",
			},
			{
				name: "Close frame with a 1-byte payload", subject: "frames-close-1-byte",
				frame: wstest.AppendFrame(nil, wstest.OpClose, true, []byte{0x03}),
				code:  1002, reason: "close frame too short", wire: "close frame too short", initiator: "local", cause: "protocol error",
			},
			{
				name: "binary frame with a 64-bit length whose top bit is set", subject: "frames-length-top-bit",
				frame: wstest.AppendFrameLength64(nil, wstest.OpBinary, true, 1<<63, []byte("x")),
				code:  1002, reason: "invalid frame length", wire: "invalid frame length", initiator: "local", cause: "protocol error",
			},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wire, frames, readErr := sendFrame(t, ex, tc)
				line, logged := ex.closedFor(t, tc.subject, 15*time.Second)
				want := fmt.Sprintf("want on the wire a Close %d %q, in the log code=%d reason=%q initiator=%s cause=%q…",
					tc.code, tc.wire, tc.code, tc.reason, tc.initiator, tc.cause)
				got := fmt.Sprintf("the client read: %s (then %v)", describeFrames(frames), readErr)
				if logged {
					got += "; the example logged: " + line.String()
				} else {
					got += "; the example logged no \"ws closed\" line for " + tc.subject
				}
				ok := wire != nil && wire.CloseCode() == tc.code && wire.CloseReason() == tc.wire &&
					logged && line.Code == tc.code && line.Reason == tc.reason && line.Initiator == tc.initiator &&
					strings.HasPrefix(line.Cause, tc.cause)
				if !ok {
					t.Errorf("%s\n  %s\n  %s", tc.name, want, got)
				}
				if n := len(ex.closedLines(t)[tc.subject]); n > 1 {
					t.Errorf("%d \"ws closed\" lines for one connection", n)
				}
			})
		}
	})
}

// sendFrame dials the example as tc.subject, writes tc.frame, reads until
// the server closes TCP and closes its side too (so that the server's
// linger ends). It returns the first Close frame read (nil if none), every
// frame read, and the error that ended reading (nil for a clean EOF).
func sendFrame(t *testing.T, ex *proc, tc frameCase) (*wstest.Frame, []wstest.Frame, error) {
	t.Helper()
	rc, err := wstest.DialRaw(ex.wsURL(), ex.bearer(t, tc.subject))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer rc.Close()
	if _, err := rc.Conn.Write(tc.frame); err != nil {
		t.Fatalf("write: %v", err)
	}
	frames, err := readAll(rc, 10*time.Second)
	if errors.Is(err, io.EOF) {
		err = nil
	} else if errors.Is(err, syscall.ECONNRESET) && len(frames) > 0 {
		// The server may close with bytes of ours unread (the rest of
		// a frame it refused): its kernel then resets, after the frames.
		err = nil
	}
	rc.Close()
	if f, ok := closeFrameIn(frames); ok {
		return &f, frames, err
	}
	return nil, frames, err
}
