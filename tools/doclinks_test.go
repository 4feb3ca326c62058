package tools

import (
	"go/ast"
	"go/doc"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocLinks resolves, against the code, every doc link ([Name],
// [Type.Method], [pkg.Name]) in every doc comment of every package of the
// workspace, every Go name in backticks in those comments and in the
// Markdown files, and every package-qualified name (wsmw.Handler,
// http.Server.Shutdown) in their code blocks: a rename that leaves a doc
// behind fails here.
func TestDocLinks(t *testing.T) {
	r := load(t)
	for _, p := range r.pkgs {
		d, err := doc.NewFromFiles(r.fset, p.Syntax, p.PkgPath, doc.AllDecls|doc.AllMethods|doc.PreserveAST)
		if err != nil {
			t.Fatal(err)
		}
		imports := map[string]string{}
		for _, f := range p.Syntax {
			for name, path := range fileImports(f) {
				imports[name] = path
			}
		}
		c := &checker{r: r, current: p.Types, imports: imports, parser: d.Parser()}
		for _, dc := range docComments(p.Syntax) {
			for _, problem := range c.comment(dc.text) {
				t.Errorf("%s (%s): %s", r.rel(r.fset.Position(dc.pos).String()), dc.where, problem)
			}
		}
	}
	for _, path := range r.markdownFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		c := &checker{r: r}
		for _, problem := range c.markdown(string(data)) {
			t.Errorf("%s: %s", r.rel(path), problem)
		}
	}
}

// docComment is one doc comment and where it is.
type docComment struct {
	where string
	pos   token.Pos
	text  string
}

// docComments returns the files' doc comments: the package's, every
// declaration's (exported or not), and every struct field's and interface
// method's.
func docComments(files []*ast.File) []docComment {
	var out []docComment
	add := func(where string, cg *ast.CommentGroup) {
		if cg != nil {
			out = append(out, docComment{where, cg.Pos(), cg.Text()})
		}
	}
	for _, f := range files {
		add("package doc", f.Doc)
		for _, decl := range f.Decls {
			switch dl := decl.(type) {
			case *ast.FuncDecl:
				add(dl.Name.Name, dl.Doc)
			case *ast.GenDecl:
				add("declaration", dl.Doc)
				for _, spec := range dl.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						add(s.Name.Name, s.Doc)
						ast.Inspect(s.Type, func(n ast.Node) bool {
							if fl, ok := n.(*ast.Field); ok {
								add(s.Name.Name+" field", fl.Doc)
								add(s.Name.Name+" field", fl.Comment)
							}
							return true
						})
					case *ast.ValueSpec:
						add(s.Names[0].Name, s.Doc)
						add(s.Names[0].Name, s.Comment)
					}
				}
			}
		}
	}
	return out
}

// markdownFiles returns the repository's tracked Markdown files.
func (r *repo) markdownFiles(t *testing.T) []string {
	cmd := exec.Command("git", "ls-files", "*.md")
	cmd.Dir = r.root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var paths []string
	for _, l := range strings.Fields(string(out)) {
		paths = append(paths, filepath.Join(r.root, l))
	}
	return paths
}

// rel shortens a path (with its position) to the repository's root.
func (r *repo) rel(path string) string {
	return strings.TrimPrefix(path, r.root+string(filepath.Separator))
}
