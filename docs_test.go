package wsmw_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// exported returns the exported top-level names of the non-test Go files
// in dir.
func exported(t *testing.T, dir string) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() {
					names[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch sp := spec.(type) {
					case *ast.TypeSpec:
						names[sp.Name.Name] = sp.Name.IsExported()
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							if n.IsExported() {
								names[n.Name] = true
							}
						}
					}
				}
			}
		}
	}
	return names
}

// snippet is a piece of documentation code and where it is.
type snippet struct{ where, code string }

// snippets returns the Go blocks of README.md, the code blocks of every
// doc.go's comment and every Example function, across the repository's
// modules.
func snippets(t *testing.T) []snippet {
	t.Helper()
	var out []snippet
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, block := range regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		out = append(out, snippet{"README.md Go block " + strconv.Itoa(i+1), block[1]})
	}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		switch {
		case d.Name() == "doc.go" || d.Name() == "wsmw.go":
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var code []string
			for _, line := range strings.Split(string(src), "\n") {
				if strings.HasPrefix(line, "//\t") {
					code = append(code, line[3:])
				}
			}
			out = append(out, snippet{path + " comment", strings.Join(code, "\n")})
		case strings.HasSuffix(d.Name(), "_test.go"):
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				if fn, ok := decl.(*ast.FuncDecl); ok && strings.HasPrefix(fn.Name.Name, "Example") && fn.Recv == nil {
					body := src[fset.Position(fn.Pos()).Offset:fset.Position(fn.End()).Offset]
					out = append(out, snippet{path + " " + fn.Name.Name, string(body)})
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDocsSpelling: every snippet of the documentation (README.md's Go
// blocks, doc.go comments, Examples) spells each name one way. Where a
// snippet uses the root package, a name the root re-exports from one of
// the packages under it (auth, middleware, timeout, ratelimit, queue) is
// spelt wsmw.X, never auth.X or ratelimit.X (auth.New, ratelimit.KeyByIPPrefix
// and the like, which the root lacks, stay their package's); no snippet
// names what was removed (WithRevocations: revocations hold with no
// option) or imports the gqlgen adapter under another name than its
// package's, gqlws.
func TestDocsSpelling(t *testing.T) {
	root := exported(t, ".")
	type spelling struct {
		pkg string
		re  *regexp.Regexp
	}
	var spellings []spelling
	for _, pkg := range []string{"auth", "middleware", "timeout", "ratelimit", "queue"} {
		var shared []string
		for name := range exported(t, pkg) {
			if root[name] {
				shared = append(shared, regexp.QuoteMeta(name))
			}
		}
		if len(shared) == 0 {
			t.Fatalf("no name shared by wsmw and %s: the test would check nothing", pkg)
		}
		t.Logf("names of both wsmw and %s: %v", pkg, shared)
		spellings = append(spellings, spelling{pkg, regexp.MustCompile(`\b` + pkg + `\.(` + strings.Join(shared, "|") + `)\b`)})
	}
	removed := regexp.MustCompile(`\bWithRevocations\b|\bRevocationList\b|\bwsgqlgen\b|\bgqlgen\.(New|With\w+|Adapter)\b`)
	usesRoot := regexp.MustCompile(`\bwsmw\.[A-Z]`) // not an attribute such as wsmw.close.cause
	n := 0
	for _, s := range snippets(t) {
		n++
		if usesRoot.MatchString(s.code) {
			for _, sp := range spellings {
				if m := sp.re.FindString(s.code); m != "" {
					t.Errorf("%s: %s, where the snippet uses the root package: spell it wsmw.%s", s.where, m, strings.TrimPrefix(m, sp.pkg+"."))
				}
			}
		}
		if m := removed.FindString(s.code); m != "" {
			t.Errorf("%s: names %s", s.where, m)
		}
	}
	if n < 20 {
		t.Fatalf("only %d snippets found", n)
	}
}
