package tools

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"golang.org/x/tools/go/packages"
)

// module is one module of the workspace.
type module struct {
	path, dir string
}

// library reports whether the module is a library users import (it has an
// API file): not a program, not the benchmarks, not these checks.
func (m module) library() bool {
	switch filepath.Base(m.dir) {
	case "example", "bench", "tools":
		return false
	}
	return true
}

// repo is the workspace as the checks see it: every module, and every
// package of ours with its syntax (comments included) and types.
type repo struct {
	root    string
	modules []module
	pkgs    []*packages.Package          // ours, sorted by import path
	byPath  map[string]*packages.Package // ours, by import path
	byName  map[string][]*types.Package  // ours, by package name
	others  map[string]*types.Package    // other packages loaded on demand
	fset    *token.FileSet
	mu      sync.Mutex
}

var (
	loadOnce sync.Once
	loaded   *repo
	loadErr  error
)

// load loads the workspace once for every check.
func load(t *testing.T) *repo {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = loadRepo() })
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return loaded
}

func loadRepo() (*repo, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return nil, err
	}
	r := &repo{
		root:   root,
		byPath: map[string]*packages.Package{},
		byName: map[string][]*types.Package{},
		others: map[string]*types.Package{},
		fset:   token.NewFileSet(),
	}
	var patterns []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, dir, _ := strings.Cut(line, " ")
		r.modules = append(r.modules, module{path: path, dir: dir})
		patterns = append(patterns, dir+"/...")
	}
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax |
			packages.NeedTypes | packages.NeedImports | packages.NeedModule,
		Dir:  root,
		Fset: r.fset,
	}
	pkgs, err := packages.Load(cfg, patterns...)
	if err != nil {
		return nil, err
	}
	for _, p := range pkgs {
		if len(p.Errors) > 0 {
			return nil, p.Errors[0]
		}
		r.pkgs = append(r.pkgs, p)
		r.byPath[p.PkgPath] = p
		r.byName[p.Name] = append(r.byName[p.Name], p.Types)
	}
	sort.Slice(r.pkgs, func(i, j int) bool { return r.pkgs[i].PkgPath < r.pkgs[j].PkgPath })
	return r, nil
}

// typesOf returns the package with import path path: one of ours, or any
// other (the standard library, a dependency) loaded on first use; nil when
// it cannot be loaded.
func (r *repo) typesOf(path string) *types.Package {
	if p := r.byPath[path]; p != nil {
		return p.Types
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if tp, ok := r.others[path]; ok {
		return tp
	}
	var tp *types.Package
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedTypes, Dir: r.root}
	if pkgs, err := packages.Load(cfg, path); err == nil && len(pkgs) == 1 && len(pkgs[0].Errors) == 0 {
		tp = pkgs[0].Types
	}
	r.others[path] = tp
	return tp
}

// internal reports whether users cannot import the package.
func internal(path string) bool {
	return strings.Contains(path, "/internal/") || strings.HasSuffix(path, "/internal")
}

// resolve reports whether sel (Name, Type.Member, or Type.Member.Member)
// names something declared in pkg. Members are methods (of T or *T) and
// fields, promoted ones included.
func resolve(pkg *types.Package, sel []string) bool {
	if pkg == nil || len(sel) == 0 {
		return false
	}
	obj := pkg.Scope().Lookup(sel[0])
	if obj == nil {
		return false
	}
	typ := obj.Type()
	for _, member := range sel[1:] {
		m, _, _ := types.LookupFieldOrMethod(typ, true, pkg, member)
		if m == nil {
			m, _, _ = types.LookupFieldOrMethod(typ, true, nil, member)
		}
		if m == nil {
			return false
		}
		typ = m.Type()
		if sig, ok := typ.(*types.Signature); ok && sig.Results().Len() == 1 {
			typ = sig.Results().At(0).Type()
		}
	}
	return true
}

// fileImports maps the names a file uses for its imports to their paths.
func fileImports(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, is := range f.Imports {
		path := strings.Trim(is.Path.Value, `"`)
		name := path[strings.LastIndex(path, "/")+1:]
		if is.Name != nil {
			name = is.Name.Name
		} else if v := versionSuffix(name); v {
			rest := strings.TrimSuffix(path, "/"+name)
			name = rest[strings.LastIndex(rest, "/")+1:]
		}
		m[name] = path
	}
	return m
}

// versionSuffix reports whether an import path's last element is a major
// version (v2, v3, …), which is not the package's name.
func versionSuffix(elem string) bool {
	if len(elem) < 2 || elem[0] != 'v' {
		return false
	}
	for _, c := range elem[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

var (
	namesOnce sync.Once
	names     map[string]bool
)

// knownName reports whether a package of ours or one of the dependencies
// the docs name declares name: at top level, as a method or field of one of
// its types, or as a test function of ours.
func (r *repo) knownName(name string) bool {
	namesOnce.Do(func() {
		names = map[string]bool{}
		var pkgs []*types.Package
		for _, p := range r.pkgs {
			pkgs = append(pkgs, p.Types)
			for _, f := range p.GoFiles {
				testNames(filepath.Dir(f), names)
				break
			}
		}
		for _, path := range external {
			pkgs = append(pkgs, r.typesOf(path))
		}
		for _, p := range pkgs {
			if p != nil {
				addNames(p, names)
			}
		}
	})
	return names[name]
}

// addNames adds pkg's top-level names and its types' members to set.
func addNames(pkg *types.Package, set map[string]bool) {
	scope := pkg.Scope()
	for _, n := range scope.Names() {
		set[n] = true
		tn, ok := scope.Lookup(n).(*types.TypeName)
		if !ok {
			continue
		}
		ms := types.NewMethodSet(types.NewPointer(tn.Type()))
		for i := range ms.Len() {
			set[ms.At(i).Obj().Name()] = true
		}
		switch u := tn.Type().Underlying().(type) {
		case *types.Struct:
			for i := range u.NumFields() {
				set[u.Field(i).Name()] = true
			}
		case *types.Interface:
			for i := range u.NumMethods() {
				set[u.Method(i).Name()] = true
			}
		}
	}
}

// testNames adds the test, fuzz, benchmark and example functions of the
// _test.go files in dir to set.
func testNames(dir string, set map[string]bool) {
	fset := token.NewFileSet()
	files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				set[fd.Name.Name] = true
			}
		}
	}
}

// searchable returns the packages whose names the docs may use
// unqualified: ours and the dependencies named in external.
func (r *repo) searchable() []*types.Package {
	var pkgs []*types.Package
	for _, p := range r.pkgs {
		pkgs = append(pkgs, p.Types)
	}
	for _, path := range external {
		if p := r.typesOf(path); p != nil {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}
