package wstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Programs builds the Go programs that a test binary runs as child
// processes, each once however many tests ask for it, into a temporary
// directory that [Programs.Remove] deletes (TestMain calls it after the
// tests). Its zero value is ready to use; it is safe for concurrent use.
type Programs struct {
	mu    sync.Mutex
	dir   string
	built map[string]*program // by the package's absolute directory
}

type program struct {
	once sync.Once
	path string
	err  error
}

// Build builds the main package in dir (relative to the test's working
// directory, such as "../example") once and returns the binary's path. go
// build runs inside dir, so a module of its own builds with its go.mod. A
// failed build fails t, and every later Build of dir.
func (p *Programs) Build(t testing.TB, dir string) string {
	t.Helper()
	prog, err := p.program(dir)
	if err == nil {
		prog.once.Do(func() { prog.err = goBuild(dir, prog.path) })
		err = prog.err
	}
	if err != nil {
		t.Fatal(err)
	}
	return prog.path
}

// program returns dir's entry, made with its binary's path on first use.
func (p *Programs) program(dir string) (*program, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prog, ok := p.built[abs]; ok {
		return prog, nil
	}
	if p.dir == "" {
		if p.dir, err = os.MkdirTemp("", "wsmw-programs-"); err != nil {
			return nil, err
		}
	}
	if p.built == nil {
		p.built = map[string]*program{}
	}
	prog := &program{path: filepath.Join(p.dir, fmt.Sprintf("%s-%d", filepath.Base(abs), len(p.built)))}
	p.built[abs] = prog
	return prog, nil
}

// goBuild builds the main package in dir into bin.
func goBuild(dir, bin string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command is not on PATH: %w", err)
	}
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build (in %s): %v\n%s", dir, err, out)
	}
	return nil
}

// Remove deletes the programs built so far.
func (p *Programs) Remove() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}
