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
	goleak.VerifyTestMain(m)
}
