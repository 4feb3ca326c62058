package conformance

import (
	"path/filepath"
	"testing"

	"github.com/wsmw/wsmw/internal/wstest"
)

// programs holds the example binary, built once per test run; TestMain
// removes it.
var programs wstest.Programs

// exampleBinary builds ../example once per test run and returns the
// binary's path. The example is a module of its own (it imports metrics and
// cluster, which pull Prometheus and go-redis), so go build runs inside its
// directory.
func exampleBinary(t *testing.T) string {
	t.Helper()
	return programs.Build(t, filepath.Join("..", "example"))
}
