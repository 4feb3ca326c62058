package tools

import (
	"flag"
	"fmt"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the API files instead of comparing them")

// apiFile is the name of a library module's API listing, in the module's
// directory.
const apiFile = "api.txt"

// TestAPIFiles checks that every library module's exported API is what its
// api.txt lists, line for line, in the format of Go's own api/*.txt: an
// API change must change the file in the same commit (go test -run
// TestAPIFiles -update rewrites them).
func TestAPIFiles(t *testing.T) {
	r := load(t)
	for _, m := range r.modules {
		if !m.library() {
			continue
		}
		t.Run(filepath.Base(m.dir), func(t *testing.T) {
			want := r.api(m)
			path := filepath.Join(m.dir, apiFile)
			if *update {
				if err := os.WriteFile(path, []byte(strings.Join(want, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (write it with: go test ./tools -run TestAPIFiles -update)", err)
			}
			have := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			added, removed := diff(have, want)
			for _, l := range added {
				t.Errorf("not in %s: %s", path, l)
			}
			for _, l := range removed {
				t.Errorf("in %s but not in the code: %s", path, l)
			}
			if len(added)+len(removed) > 0 {
				t.Log("an API change must change the API file in the same commit: go test ./tools -run TestAPIFiles -update, and say why in README's API changes")
			}
		})
	}
}

// diff returns the lines of want not in have, and of have not in want.
func diff(have, want []string) (added, removed []string) {
	h := map[string]bool{}
	for _, l := range have {
		h[l] = true
	}
	w := map[string]bool{}
	for _, l := range want {
		w[l] = true
		if !h[l] {
			added = append(added, l)
		}
	}
	for _, l := range have {
		if !w[l] {
			removed = append(removed, l)
		}
	}
	return added, removed
}

// api lists the exported API of the module's importable packages.
func (r *repo) api(m module) []string {
	var lines []string
	for _, p := range r.pkgs {
		if p.Module == nil || p.Module.Path != m.path || internal(p.PkgPath) || p.Name == "main" {
			continue
		}
		lines = append(lines, packageAPI(p.Types)...)
	}
	sort.Strings(lines)
	return lines
}

// packageAPI lists pkg's exported names with their signatures.
func packageAPI(pkg *types.Package) []string {
	prefix := "pkg " + pkg.Path() + ", "
	qual := func(p *types.Package) string {
		if p == pkg {
			return ""
		}
		return p.Name()
	}
	var out []string
	add := func(format string, args ...any) { out = append(out, prefix+fmt.Sprintf(format, args...)) }
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch o := obj.(type) {
		case *types.Const:
			add("const %s %s", name, types.TypeString(o.Type(), qual))
			add("const %s = %s", name, o.Val().ExactString())
		case *types.Var:
			add("var %s %s", name, types.TypeString(o.Type(), qual))
		case *types.Func:
			add("func %s%s", name, signature(o.Type().(*types.Signature), qual))
		case *types.TypeName:
			out = append(out, typeAPI(prefix, o, qual)...)
		}
	}
	return out
}

// typeAPI lists an exported type: its kind, exported fields or interface
// methods, and the exported methods of its method set.
func typeAPI(prefix string, tn *types.TypeName, qual types.Qualifier) []string {
	name := tn.Name()
	if tn.IsAlias() {
		return []string{prefix + fmt.Sprintf("type %s = %s", name, types.TypeString(types.Unalias(tn.Type()), qual))}
	}
	var out []string
	add := func(format string, args ...any) { out = append(out, prefix+fmt.Sprintf(format, args...)) }
	switch u := tn.Type().Underlying().(type) {
	case *types.Struct:
		add("type %s struct", name)
		for i := range u.NumFields() {
			f := u.Field(i)
			switch {
			case f.Embedded() && f.Exported():
				add("type %s struct, embedded %s", name, types.TypeString(f.Type(), qual))
			case f.Exported():
				add("type %s struct, %s %s", name, f.Name(), types.TypeString(f.Type(), qual))
			}
		}
	case *types.Interface:
		add("type %s interface { %s }", name, interfaceSummary(u))
		for i := range u.NumMethods() {
			if m := u.Method(i); m.Exported() {
				add("type %s interface, %s%s", name, m.Name(), signature(m.Type().(*types.Signature), qual))
			}
		}
	default:
		add("type %s %s", name, types.TypeString(u, qual))
	}
	if _, isIface := tn.Type().Underlying().(*types.Interface); !isIface {
		for _, m := range methods(tn) {
			recv := name
			if _, ptr := m.Type().(*types.Signature).Recv().Type().(*types.Pointer); ptr {
				recv = "*" + name
			}
			add("method (%s) %s%s", recv, m.Name(), signature(m.Type().(*types.Signature), qual))
		}
	}
	return out
}

// methods returns the exported methods callable on a value of *T (T's and
// *T's, promoted ones included).
func methods(tn *types.TypeName) []*types.Func {
	var out []*types.Func
	ms := types.NewMethodSet(types.NewPointer(tn.Type()))
	for i := range ms.Len() {
		if f, ok := ms.At(i).Obj().(*types.Func); ok && f.Exported() {
			out = append(out, f)
		}
	}
	return out
}

// interfaceSummary names what an interface's method list holds beyond its
// exported methods, listed apart.
func interfaceSummary(u *types.Interface) string {
	for i := range u.NumMethods() {
		if !u.Method(i).Exported() {
			return "unexported methods"
		}
	}
	return ""
}

// signature formats a function's parameters and results without names, as
// Go's API files do.
func signature(sig *types.Signature, qual types.Qualifier) string {
	var b strings.Builder
	b.WriteString(tuple(sig.Params(), sig.Variadic(), qual))
	switch res := sig.Results(); res.Len() {
	case 0:
	case 1:
		b.WriteString(" " + types.TypeString(res.At(0).Type(), qual))
	default:
		b.WriteString(" " + tuple(res, false, qual))
	}
	return b.String()
}

func tuple(t *types.Tuple, variadic bool, qual types.Qualifier) string {
	parts := make([]string, t.Len())
	for i := range t.Len() {
		typ := t.At(i).Type()
		if variadic && i == t.Len()-1 {
			parts[i] = "..." + types.TypeString(typ.(*types.Slice).Elem(), qual)
			continue
		}
		parts[i] = types.TypeString(typ, qual)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
