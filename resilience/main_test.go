package resilience_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(cleanup{m}) }

// cleanup removes the example binary that the abuse tests built.
type cleanup struct{ m *testing.M }

func (c cleanup) Run() int {
	defer programs.Remove()
	return c.m.Run()
}
