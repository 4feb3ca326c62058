package tools

import (
	"flag"
	"go/ast"
	"go/doc/comment"
	"go/types"
	"os"
	"strings"
	"testing"
)

var fix = flag.Bool("fix", false, "TestLinkify: rewrite the Go names in doc comments' prose as doc links")

// TestLinkify rewrites, with -fix, the Go names written as prose in the
// doc comments of every package (Conn.CloseWith, auth.Refresh) as doc links
// ([Conn.CloseWith], [auth.Refresh]) where go/doc resolves them: a name of
// the package, or of a package its file imports (or a standard one named
// by its path, such as context). Code blocks, backticked spans, names
// already linked and the name a comment documents are left alone.
// TestDocLinks then checks every link. Without -fix it fails when a name
// could be a link and is not.
//
//	go test ./tools -run TestLinkify -fix
func TestLinkify(t *testing.T) {
	r := load(t)
	total := 0
	for _, p := range r.pkgs {
		for _, f := range p.Syntax {
			path := r.fset.File(f.Pos()).Name()
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(string(data), "\n")
			imports := fileImports(f)
			n := 0
			for _, cg := range declDocs(f) {
				for i, c := range cg.List {
					line := r.fset.Position(c.Slash).Line - 1
					if !strings.HasPrefix(lines[line][strings.Index(lines[line], "//"):], c.Text) {
						continue // not the whole line: a trailing comment
					}
					fixed, k := linkifyLine(c.Text, i == 0, p.Types, imports, r)
					if k > 0 {
						lines[line] = strings.Replace(lines[line], c.Text, fixed, 1)
						n += k
					}
				}
			}
			if n > 0 && *fix {
				if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			total += n
		}
	}
	switch {
	case *fix:
		t.Logf("%d prose names rewritten as doc links", total)
	case total > 0:
		t.Errorf("%d Go names in doc comments' prose could be doc links: go test ./tools -run TestLinkify -fix", total)
	}
}

// declDocs returns the doc comments of a file's declarations and package
// clause (not its fields': go doc shows those as code).
func declDocs(f *ast.File) []*ast.CommentGroup {
	var out []*ast.CommentGroup
	add := func(cg *ast.CommentGroup) {
		if cg != nil {
			out = append(out, cg)
		}
	}
	add(f.Doc)
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			add(d.Doc)
		case *ast.GenDecl:
			add(d.Doc)
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					add(s.Doc)
				case *ast.ValueSpec:
					add(s.Doc)
				}
			}
		}
	}
	return out
}

// linkifyLine rewrites the linkable prose names of one comment line
// ("// …"); first says whether it is the comment's first line, whose first
// word is the documented name. It returns the line and how many it
// rewrote.
func linkifyLine(text string, first bool, pkg *types.Package, imports map[string]string, r *repo) (string, int) {
	body, ok := strings.CutPrefix(text, "//")
	if !ok || strings.HasPrefix(body, "\t") || strings.HasPrefix(body, "  ") || strings.HasPrefix(body, "go:") || strings.HasPrefix(body, " # ") {
		return text, 0 // a code block, a list's continuation, a directive or a heading
	}
	var b strings.Builder
	n := 0
	inTick := false
	last := 0
	for _, m := range proseRE.FindAllStringSubmatchIndex(body, -1) {
		start, end := m[2], m[3]
		inTick = strings.Count(body[:start], "`")%2 == 1
		name := body[start:end]
		if inTick || (first && strings.TrimSpace(body[:start]) == "") ||
			(start > 0 && body[start-1] == '[') || (end < len(body) && body[end] == ']') ||
			!linkable(name, pkg, imports, r) {
			continue
		}
		if start > 0 && body[start-1] == '*' {
			start-- // [*T] links T, and reads *T
			name = "*" + name
		}
		b.WriteString(body[last:start])
		b.WriteString("[" + name + "]")
		last = end
		n++
	}
	if n == 0 {
		return text, 0
	}
	b.WriteString(body[last:])
	return "//" + b.String(), n
}

// linkable reports whether go/doc turns [name] into a link that resolves:
// a name (or Type.Member) of pkg, or pkg.Name of a package the file
// imports under that name, or of a standard package named by its path.
func linkable(name string, pkg *types.Package, imports map[string]string, r *repo) bool {
	parts := strings.Split(name, ".")
	if first := parts[0]; first[0] >= 'a' && first[0] <= 'z' {
		path, ok := imports[first]
		if !ok {
			if path, ok = comment.DefaultLookupPackage(first); !ok {
				return false
			}
		}
		if path == pkg.Path() {
			return false // self-qualified: written for readers of another package
		}
		return len(parts) <= 3 && resolve(r.typesOf(path), parts[1:])
	}
	return len(parts) <= 2 && resolve(pkg, parts)
}
