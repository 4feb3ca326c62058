package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/wsmw/wsmw/internal/wstest"
)

// debianPython is the interpreter that has Debian's python3-websockets;
// the python3 first on PATH may be another one without it.
const debianPython = "/usr/bin/python3"

// pythonClient returns the Python websockets client, or skips (fails when
// integration is required) when it is not installed.
func pythonClient(t *testing.T) client {
	t.Helper()
	if _, err := os.Stat(debianPython); err != nil {
		wstest.Missing(t, "python3", "install python3 and python3-websockets (apt)")
	}
	out, err := exec.Command(debianPython, "-c", "import websockets; print(websockets.__version__)").CombinedOutput()
	if err != nil {
		wstest.Missing(t, "python3-websockets", "apt-get install python3-websockets: "+string(out))
	}
	script, err := filepath.Abs(filepath.Join("python", "client.py"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("python websockets %s", out)
	return client{name: "python websockets", argv: []string{debianPython, script}}
}

// TestPython plays every close scenario, then SIGTERM, with Python
// websockets against one example.
func TestPython(t *testing.T) {
	t.Parallel()
	runCloseGroup(t, pythonClient(t), "py")
}
