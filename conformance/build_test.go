package conformance

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

// exampleBinary builds ../example once per test run and returns the
// binary's path. The example is a module of its own (it imports metrics and
// cluster, which pull Prometheus and go-redis), so go build runs inside its
// directory.
func exampleBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			build.err = fmt.Errorf("the go command is not on PATH: %w", err)
			return
		}
		build.dir, build.err = os.MkdirTemp("", "wsmw-conformance-")
		if build.err != nil {
			return
		}
		dir, err := filepath.Abs(filepath.Join("..", "example"))
		if err != nil {
			build.err = err
			return
		}
		build.bin = filepath.Join(build.dir, "example")
		cmd := exec.Command(goTool, "build", "-o", build.bin, ".")
		cmd.Dir = dir
		build.out, build.err = cmd.CombinedOutput()
	})
	if build.err != nil {
		t.Fatalf("go build (in ../example): %v\n%s", build.err, build.out)
	}
	return build.bin
}

// cleanupBuild removes the built example; TestMain calls it.
func cleanupBuild() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}
