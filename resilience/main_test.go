package resilience_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(cleanup{m}) }

// cleanup removes the example binary that the abuse tests built.
type cleanup struct{ m *testing.M }

func (c cleanup) Run() int {
	defer func() {
		if binDir != "" {
			os.RemoveAll(binDir)
		}
	}()
	return c.m.Run()
}
