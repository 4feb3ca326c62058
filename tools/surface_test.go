package tools

import (
	"go/types"
	"sort"
	"testing"
)

// The core's exported surface and its budget: exported top-level types,
// funcs, consts and vars, and the exported methods of exported types, in
// the non-test files of the core's packages.
var corePackages = []string{
	"github.com/wsmw/wsmw",
	"github.com/wsmw/wsmw/lifecycle",
	"github.com/wsmw/wsmw/middleware",
	"github.com/wsmw/wsmw/auth",
	"github.com/wsmw/wsmw/timeout",
	"github.com/wsmw/wsmw/ratelimit",
	"github.com/wsmw/wsmw/queue",
}

const (
	coreBudget        = 300 // exported names in corePackages (issue 23: v1)
	connMethodsBudget = 25  // methods of lifecycle.Conn (issue 23: v1)
)

// TestCoreSurface keeps the core's API small: a name added beyond the
// budget must replace one, or move to internal/.
func TestCoreSurface(t *testing.T) {
	r := load(t)
	total := 0
	for _, path := range corePackages {
		p := r.byPath[path]
		if p == nil {
			t.Fatalf("%s not loaded", path)
		}
		n := len(exportedNames(p.Types))
		t.Logf("%-36s %3d", path, n)
		total += n
	}
	t.Logf("%-36s %3d (budget %d)", "core", total, coreBudget)
	if total > coreBudget {
		t.Errorf("the core exports %d names, over its budget of %d", total, coreBudget)
	}
	conn := r.byPath["github.com/wsmw/wsmw/lifecycle"].Types.Scope().Lookup("Conn").(*types.TypeName)
	if n := len(methods(conn)); n > connMethodsBudget {
		t.Errorf("lifecycle.Conn has %d methods, over its budget of %d", n, connMethodsBudget)
	}
}

// exportedNames lists pkg's exported top-level names and the exported
// methods of its exported types (Type.Method), sorted.
func exportedNames(pkg *types.Package) []string {
	var out []string
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		out = append(out, name)
		if tn, ok := obj.(*types.TypeName); ok && !tn.IsAlias() {
			for _, m := range methods(tn) {
				out = append(out, name+"."+m.Name())
			}
		}
	}
	sort.Strings(out)
	return out
}
