package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

const python = "/usr/bin/python3"

type pyResult struct {
	Code   int
	Reason string
	Echoes int
}

// pyClient runs testdata/client.py (Python websockets) and decodes its
// JSON line.
func pyClient(t *testing.T, args ...string) pyResult {
	t.Helper()
	if err := exec.Command(python, "-c", "import websockets").Run(); err != nil {
		wstest.Missing(t, "python3-websockets", python+" cannot import websockets: "+err.Error())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, python, append([]string{"testdata/client.py"}, args...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("client.py: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("client.py: %v", err)
	}
	var out pyResult
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("client.py output %q: %v", b, err)
	}
	return out
}

// A real client that floods sees 1008 "rate limit exceeded"; one that
// sends an oversized message sees 1009; both are clean handshakes.
func TestPythonClientSeesLimits(t *testing.T) {
	s := newTestServer(t, nil, MaxMessageSize(4096), MessageRate(20, 40))
	out := pyClient(t, "flood", s.url, "500")
	if out.Code != 1008 || out.Reason != "rate limit exceeded" || out.Echoes < 40 || out.Echoes > 50 {
		t.Fatalf("flood: %+v", out)
	}
	info := s.nextClose()
	if info.Code != 1008 || !info.HandshakeComplete || !errors.Is(info.Cause, ErrRateLimited) {
		t.Fatalf("flood CloseInfo %+v", info)
	}

	out = pyClient(t, "big", s.url, strconv.Itoa(4097))
	if out.Code != 1009 || out.Reason != "message too big" || out.Echoes != 0 {
		t.Fatalf("oversized: %+v", out)
	}
	info = s.nextClose()
	if info.Code != 1009 || info.Initiator != lifecycle.InitiatorLocal || !info.HandshakeComplete {
		t.Fatalf("oversized CloseInfo %+v", info)
	}
}
