package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsmw/wsmw/lifecycle"
)

// TestCountingDoesNotAllocate checks the per-message hot path.
func TestCountingDoesNotAllocate(t *testing.T) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 1000)
	if n := testing.AllocsPerRun(1000, func() { m.countInFn(lifecycle.BinaryMessage, data) }); n != 0 {
		t.Errorf("inbound count: %v allocations per message", n)
	}
}
