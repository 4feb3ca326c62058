package conformance

import (
	"os/exec"
	"regexp"
	"sync"
	"testing"
)

var flagLine = regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)

var knownFlags struct {
	once sync.Once
	set  map[string]bool
}

// withContractFlags returns the flag list the example accepts out of args
// (pairs of "-name", "value"). A flag of the contract that the example
// does not define fails the test but is dropped, so the scenarios that do
// not need it still run and the ones that do fail on their own checks.
func withContractFlags(t *testing.T, args ...string) []string {
	t.Helper()
	bin := exampleBinary(t)
	knownFlags.once.Do(func() {
		out, _ := exec.Command(bin, "-h").CombinedOutput() // -h exits 2 after printing the flags
		knownFlags.set = map[string]bool{}
		for _, m := range flagLine.FindAllStringSubmatch(string(out), -1) {
			knownFlags.set[m[1]] = true
		}
	})
	var out []string
	for i := 0; i+1 < len(args); i += 2 {
		name := args[i][1:]
		if !knownFlags.set[name] {
			t.Errorf("the example does not define the contract's flag %s (the README's table of flags); running without it", args[i])
			continue
		}
		out = append(out, args[i], args[i+1])
	}
	return out
}
