package tools

import (
	"fmt"
	"go/doc/comment"
	"go/types"
	"regexp"
	"strings"
	"unicode"
)

// checker resolves the names a doc comment or a Markdown file uses.
type checker struct {
	r       *repo
	current *types.Package    // the comment's package; nil in Markdown
	imports map[string]string // names the package's files import, by name
	parser  *comment.Parser   // the package's doc comment parser
}

// external names the packages that docs may qualify names with without
// importing them: dependencies and the standard library (which
// comment.DefaultLookupPackage knows too).
var external = map[string]string{
	"websocket":   "github.com/gorilla/websocket",
	"chi":         "github.com/go-chi/chi/v5",
	"middleware":  "github.com/go-chi/chi/v5/middleware",
	"melody":      "github.com/olahol/melody",
	"nbhttp":      "github.com/lesismal/nbio/nbhttp",
	"nbws":        "github.com/lesismal/nbio/nbhttp/websocket",
	"gws":         "github.com/lxzan/gws",
	"runtime":     "runtime",
	"net":         "net",
	"syscall":     "syscall",
	"jwt":         "github.com/golang-jwt/jwt/v5",
	"keyfunc":     "github.com/MicahParks/keyfunc/v3",
	"jwkset":      "github.com/MicahParks/jwkset",
	"rate":        "golang.org/x/time/rate",
	"redis":       "github.com/redis/go-redis/v9",
	"prometheus":  "github.com/prometheus/client_golang/prometheus",
	"promhttp":    "github.com/prometheus/client_golang/prometheus/promhttp",
	"handler":     "github.com/99designs/gqlgen/graphql/handler",
	"transport":   "github.com/99designs/gqlgen/graphql/handler/transport",
	"graphql":     "github.com/99designs/gqlgen/graphql",
	"goleak":      "go.uber.org/goleak",
	"slog":        "log/slog",
	"http":        "net/http",
	"synctest":    "testing/synctest",
	"signal":      "os/signal",
	"httptest":    "net/http/httptest",
	"atomic":      "sync/atomic",
	"otel":        "go.opentelemetry.io/otel",
	"trace":       "go.opentelemetry.io/otel/trace",
	"propagation": "go.opentelemetry.io/otel/propagation",
	"otelhttp":    "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
}

// receivers are the variable names the docs use for the core's types, by
// convention: c.Close, reg.Revoke, info.Code.
var receivers = map[string][2]string{
	"c":    {"github.com/wsmw/wsmw/lifecycle", "Conn"},
	"reg":  {"github.com/wsmw/wsmw/lifecycle", "Registry"},
	"info": {"github.com/wsmw/wsmw/lifecycle", "CloseInfo"},
}

// notGo are capitalised words in backticks that are not Go names: HTTP
// header names and the like.
var notGo = map[string]bool{
	"Authorization": true, "Origin": true, "Host": true, "Upgrade": true,
	"Connection": true, "Bearer": true, "EdDSA": true,
	// Words of prose, units and other projects' names.
	"WebSocket": true, "WebSockets": true, "GraphQL": true, "JavaScript": true,
	"OpenTelemetry": true, "W3C": true,
	"KiB": true, "MiB": true, "GiB": true, "VmRSS": true, "MicahParks": true,
	"ConcurrentWebSocketSessionDecorator": true, // Spring's
	// Placeholders: WithX for "an option", MyClaims for "your claims type".
	"WithX": true, "MyClaims": true,
}

var (
	spanRE     = regexp.MustCompile("`([^`\n]+)`")
	proseRE    = regexp.MustCompile(`(?:^|[^\w.\[/-])((?:[a-z][a-z0-9]*\.)?[A-Z][a-z0-9]+[A-Z]\w*(?:\.[A-Z]\w*)?|(?:[a-z][a-z0-9]*\.)?[A-Z]\w*\.[A-Z]\w*)(?:[^\w.-]|\.(?:\s|$)|$)`)
	exprRE     = regexp.MustCompile(`^[*&]*(?:\[\])?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\(.*\)|\{.*\})?$`)
	qualRE     = regexp.MustCompile(`(?:^|[^\w.])([a-z][a-z0-9]*)\.([A-Z]\w*(?:\.[A-Z]\w*)?)`)
	bracketRE  = regexp.MustCompile(`\[(\*?[A-Za-z_]\w*(?:\.[A-Za-z_]\w*){0,2})\]`)
	fenceRE    = regexp.MustCompile("(?m)^```[ \t]*(\\w*)[^\n]*\n((?s:.*?))^```")
	camelLower = func(s string) bool { return strings.IndexFunc(s, unicode.IsLower) >= 0 }
)

// comment checks one doc comment.
func (c *checker) comment(text string) []string {
	var problems []string
	for _, b := range c.parser.Parse(text).Content {
		problems = append(problems, c.block(b)...)
	}
	return problems
}

func (c *checker) block(b comment.Block) []string {
	switch b := b.(type) {
	case *comment.Paragraph:
		return c.texts(b.Text)
	case *comment.Heading:
		return c.texts(b.Text)
	case *comment.List:
		var problems []string
		for _, it := range b.Items {
			for _, bb := range it.Content {
				problems = append(problems, c.block(bb)...)
			}
		}
		return problems
	case *comment.Code:
		return c.code(b.Text)
	}
	return nil
}

// texts checks a paragraph's doc links, the brackets that did not become
// links, and its backticked names.
func (c *checker) texts(ts []comment.Text) []string {
	var problems []string
	var plain strings.Builder
	var walk func([]comment.Text)
	walk = func(ts []comment.Text) {
		for _, t := range ts {
			switch t := t.(type) {
			case comment.Plain:
				plain.WriteString(string(t))
			case comment.Italic:
				plain.WriteString(string(t))
			case *comment.Link:
				walk(t.Text)
			case *comment.DocLink:
				if p := c.docLink(t); p != "" {
					problems = append(problems, p)
				}
				plain.WriteString("\x00")
			}
		}
	}
	walk(ts)
	text := plain.String()
	for _, m := range bracketRE.FindAllStringSubmatch(text, -1) {
		name := strings.TrimPrefix(m[1], "*")
		if len(name) > 1 && (strings.Contains(name, ".") || camelLower(name) && unicode.IsUpper(rune(name[0]))) {
			problems = append(problems, fmt.Sprintf("doc link [%s] resolves to nothing", m[1]))
		}
	}
	for _, m := range spanRE.FindAllStringSubmatch(text, -1) {
		problems = append(problems, c.span(m[1])...)
	}
	prose := spanRE.ReplaceAllString(text, "")
	for _, m := range proseRE.FindAllStringSubmatch(prose, -1) {
		if p := c.proseName(m[1]); p != "" {
			problems = append(problems, p)
		}
	}
	return problems
}

// proseName checks a name written in a comment's prose that can only be
// Go (NewConn, Conn.CloseWith, auth.WithRevocations): it must resolve as
// a backticked one would.
func (c *checker) proseName(name string) string {
	if notGo[name] || strings.HasSuffix(name, ".") {
		return ""
	}
	parts := strings.Split(name, ".")
	if len(parts) > 1 && unicode.IsLower(rune(parts[0][0])) {
		pkgs := c.packages(parts[0])
		if pkgs == nil || resolveIn(pkgs, parts[1:]) {
			return ""
		}
		return fmt.Sprintf("%s: %s declares no %s (a stale name? write it as a doc link)", name, parts[0], strings.Join(parts[1:], "."))
	}
	if c.bare(parts) {
		return ""
	}
	return fmt.Sprintf("%s names nothing declared (a stale name? write it as a doc link)", name)
}

// docLink checks a link that go/doc resolved to another package: go/doc
// knows the package, not whether it declares the name.
func (c *checker) docLink(l *comment.DocLink) string {
	if l.ImportPath == "" {
		return "" // a name of the package itself: go/doc found it
	}
	pkg := c.r.typesOf(l.ImportPath)
	if pkg == nil {
		return fmt.Sprintf("doc link to package %s, which cannot be loaded", l.ImportPath)
	}
	if l.Name == "" {
		return ""
	}
	sel := []string{l.Name}
	if l.Recv != "" {
		sel = []string{strings.TrimPrefix(l.Recv, "*"), l.Name}
	}
	if !resolve(pkg, sel) {
		return fmt.Sprintf("doc link [%s.%s] resolves to nothing in %s", pkg.Name(), strings.Join(sel, "."), l.ImportPath)
	}
	return ""
}

// packages returns the packages a qualifier may name: the one the
// comment's package imports under that name, or else every package of
// ours, of the dependencies and of the standard library that has it
// (chi's middleware and ours, say).
func (c *checker) packages(name string) []*types.Package {
	var pkgs []*types.Package
	if c.current != nil && name == c.current.Name() {
		pkgs = append(pkgs, c.current) // and what the files import under its name
	}
	if path, ok := c.imports[name]; ok {
		return append(pkgs, c.r.typesOf(path))
	}
	if pkgs != nil {
		return pkgs
	}
	pkgs = append(pkgs, c.r.byName[name]...)
	if path, ok := external[name]; ok {
		pkgs = append(pkgs, c.r.typesOf(path))
	}
	if path, ok := comment.DefaultLookupPackage(name); ok && path != external[name] {
		pkgs = append(pkgs, c.r.typesOf(path))
	}
	return pkgs
}

// resolveIn reports whether sel resolves in one of pkgs.
func resolveIn(pkgs []*types.Package, sel []string) bool {
	for _, p := range pkgs {
		if resolve(p, sel) {
			return true
		}
	}
	return false
}

// span checks the Go names of a backticked span: a qualified name
// (wsmw.Handler, http.Server.Shutdown), a method or field on a
// conventional receiver (c.CloseWith, reg.Revoke), or a bare exported name
// (WithClose, Conn.Wait), with or without a call's arguments, whose
// qualified names are checked too.
func (c *checker) span(s string) []string {
	s = strings.TrimSpace(s)
	m := exprRE.FindStringSubmatch(s)
	if m == nil {
		return c.code(s)
	}
	problems := c.code(strings.TrimPrefix(s, m[0][:strings.Index(m[0], m[1])+len(m[1])]))
	parts := strings.Split(m[1], ".")
	switch first := parts[0]; {
	case len(parts) > 1 && !unicode.IsUpper(rune(parts[1][0])):
		// Not a Go name (a package's names are exported): an attribute
		// or metric name such as wsmw.close.cause.
	case len(parts) > 1 && c.packages(first) != nil:
		if !resolveIn(c.packages(first), parts[1:]) {
			problems = append(problems, fmt.Sprintf("`%s`: %s declares no %s", s, first, strings.Join(parts[1:], ".")))
		}
	case len(parts) > 1 && receivers[first] != [2]string{}:
		rv := receivers[first]
		if !resolve(c.r.typesOf(rv[0]), append([]string{rv[1]}, parts[1:]...)) {
			problems = append(problems, fmt.Sprintf("`%s`: %s has no %s", s, rv[1], strings.Join(parts[1:], ".")))
		}
	case unicode.IsUpper(rune(first[0])) && camelLower(first) && !notGo[first]:
		if !c.bare(parts) {
			problems = append(problems, fmt.Sprintf("`%s` names nothing declared", s))
		}
	}
	return problems
}

// bare reports whether an unqualified name resolves: in the comment's own
// package, else as a type and its member in a package of ours, else as any
// name that a package of ours or of the dependencies declares (a function,
// a type's method or field: `Revoke`, `SetReadDeadline`), or a test's.
func (c *checker) bare(sel []string) bool {
	if c.current != nil && resolve(c.current, sel) {
		return true
	}
	for _, p := range c.r.searchable() {
		if resolve(p, sel) {
			return true
		}
	}
	return len(sel) == 1 && c.r.knownName(sel[0])
}

// code checks the qualified names in a code block or a span's arguments:
// a name qualified by one of our packages, a known dependency or a
// standard package must be declared there; other qualifiers (variables)
// are not checked, except the conventional receivers.
func (c *checker) code(text string) []string {
	var problems []string
	for _, m := range qualRE.FindAllStringSubmatch(text, -1) {
		sel := strings.Split(m[2], ".")
		if pkgs := c.packages(m[1]); pkgs != nil {
			if !resolveIn(pkgs, sel) && !resolveIn(pkgs, sel[:1]) {
				problems = append(problems, fmt.Sprintf("%s.%s: %s declares no %s", m[1], m[2], m[1], m[2]))
			} else if len(sel) > 1 && !resolveIn(pkgs, sel) && isType(pkgs, sel[0]) {
				problems = append(problems, fmt.Sprintf("%s.%s: %s.%s has no %s", m[1], m[2], m[1], sel[0], sel[1]))
			}
			continue
		}
		if rv, ok := receivers[m[1]]; ok {
			if !resolve(c.r.typesOf(rv[0]), []string{rv[1], sel[0]}) {
				problems = append(problems, fmt.Sprintf("%s.%s: %s has no %s", m[1], sel[0], rv[1], sel[0]))
			}
		}
	}
	return problems
}

// isType reports whether name is a type in one of pkgs.
func isType(pkgs []*types.Package, name string) bool {
	for _, p := range pkgs {
		if p == nil {
			continue
		}
		if _, ok := p.Scope().Lookup(name).(*types.TypeName); ok {
			return true
		}
	}
	return false
}

// markdown checks a Markdown file: the qualified names of its Go code
// blocks, and the names in its inline code spans.
func (c *checker) markdown(text string) []string {
	var problems []string
	rest := fenceRE.ReplaceAllStringFunc(text, func(block string) string {
		m := fenceRE.FindStringSubmatch(block)
		if m[1] == "" || m[1] == "go" {
			problems = append(problems, c.code(m[2])...)
		}
		return ""
	})
	for _, m := range spanRE.FindAllStringSubmatchIndex(rest, -1) {
		if strings.HasSuffix(rest[:m[0]], "~~") {
			continue // struck through: a name that is gone, in a change log
		}
		problems = append(problems, c.span(rest[m[2]:m[3]])...)
	}
	return problems
}
