package bench_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/wsmw/wsmw/bench"
)

func TestMain(m *testing.M) {
	if code, ok := bench.MaybeChild(); ok {
		os.Exit(code) // this process was a server child
	}
	// nbio's package starts its shared task pool's goroutines when it is
	// loaded, and keeps them for the life of the process.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/lesismal/nbio/taskpool.New.func3"))
}
