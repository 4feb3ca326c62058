package conformance

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/wsmw/wsmw/internal/wstest"
)

// nodeDir holds the Node clients and their committed package.json and
// package-lock.json; `npm ci --prefix conformance/node` installs them.
const nodeDir = "node"

// nodeModule returns the path of node and checks that module is
// installed under node/node_modules, or skips (fails when integration is
// required).
func nodeModule(t *testing.T, module string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		wstest.Missing(t, "node", "install nodejs and npm (apt)")
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", module, "package.json")); err != nil {
		wstest.Missing(t, "npm package "+module, "run `npm ci --prefix conformance/node`")
	}
	return node
}

// nodeClient returns the Node ws client.
func nodeClient(t *testing.T) client {
	t.Helper()
	node := nodeModule(t, "ws")
	script, err := filepath.Abs(filepath.Join(nodeDir, "client.js"))
	if err != nil {
		t.Fatal(err)
	}
	return client{name: "node ws", argv: []string{node, script}}
}

// TestNode plays every close scenario (and the refused handshakes: no
// token → 401 as an unexpected response, foreign Origin → 403), then
// SIGTERM, with Node's ws against one example.
func TestNode(t *testing.T) {
	t.Parallel()
	runCloseGroup(t, nodeClient(t), "node")
}
