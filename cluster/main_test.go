package cluster_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// TestMain stops the Redis topologies the tests shared before it looks for
// leaked goroutines (their processes' waiters would be ones).
func TestMain(m *testing.M) {
	redis.SetLogger(redisLog{})
	code := m.Run()
	stopTopologies()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// redisLog shows go-redis's own log lines (failed dials, sentinel
// switches) only with -v.
type redisLog struct{}

func (redisLog) Printf(_ context.Context, format string, v ...any) {
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "go-redis: "+format+"\n", v...)
	}
}
