package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"time"
)

// Environment of a server child.
const (
	// EnvServer names the row a child serves; its presence makes the
	// process a server child (see [MaybeChild]).
	EnvServer = "WSMW_BENCH_SERVER"
	// EnvPing is [Options.Ping] as a time.Duration ("1s"), empty for none.
	EnvPing = "WSMW_BENCH_PING"
	// EnvPongTimeout is [Options.PongTimeout] as a time.Duration, empty for
	// the default.
	EnvPongTimeout = "WSMW_BENCH_PONG_TIMEOUT"
	// EnvBlock set to 1 sets [Options.Block].
	EnvBlock = "WSMW_BENCH_BLOCK"
	// EnvProfile is a path prefix: the child writes PREFIX.cpu.pprof for its
	// whole life and PREFIX.heap.pprof at each Settle and
	// PREFIX.allocs.pprof when told to quit. Empty for none.
	EnvProfile = "WSMW_BENCH_PROFILE"
	// EnvMemProfileRate sets [runtime.MemProfileRate] in the child (1 records
	// every allocation); empty keeps Go's default.
	EnvMemProfileRate = "WSMW_BENCH_MEMPROFILERATE"
)

// Secret is the HS256 key of the wsmw-full row; the benchmarks sign their
// tokens with it.
var Secret = []byte("wsmw-bench-secret-not-for-production-use")

// shutdownBound bounds a child's Shutdown command.
const shutdownBound = 60 * time.Second

// reply is one line a child writes for one command.
type reply struct {
	Stats   Stats
	Elapsed time.Duration `json:",omitempty"`
	Err     string        `json:",omitempty"`
}

// MaybeChild runs this process as a server child when [EnvServer] is set, and
// then returns its exit code and true; otherwise it returns at once with
// false. A test binary calls it first thing in TestMain.
func MaybeChild() (code int, isChild bool) {
	name := os.Getenv(EnvServer)
	if name == "" {
		return 0, false
	}
	if err := serveChild(name, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 1, true
	}
	return 0, true
}

// serveChild listens on 127.0.0.1, writes "addr HOST:PORT", then answers
// one command per line of in until "quit" or EOF: "stats", "settle" (GC,
// return freed memory to the OS, then stats), "census" (stats with the
// event loop's workers counted) and "shutdown".
func serveChild(name string, in io.Reader, out io.Writer) error {
	o := Options{Secret: Secret, Block: os.Getenv(EnvBlock) == "1"}
	for env, d := range map[string]*time.Duration{EnvPing: &o.Ping, EnvPongTimeout: &o.PongTimeout} {
		if v := os.Getenv(env); v != "" {
			var err error
			if *d, err = time.ParseDuration(v); err != nil {
				return fmt.Errorf("%s: %w", env, err)
			}
		}
	}
	s, err := NewServer(name, o)
	if err != nil {
		return err
	}
	if v := os.Getenv(EnvMemProfileRate); v != "" {
		rate, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%s: %w", EnvMemProfileRate, err)
		}
		runtime.MemProfileRate = rate
	}
	prefix := os.Getenv(EnvProfile)
	if prefix != "" {
		f, err := os.Create(prefix + ".cpu.pprof")
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if s.Serve != nil {
		if err := s.Serve(ln); err != nil {
			return err
		}
	} else {
		srv := &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
	}

	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "addr %s\n", ln.Addr())
	if err := w.Flush(); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var r reply
		switch cmd := sc.Text(); cmd {
		case "stats":
			r.Stats = TakeStats(s)
		case "census":
			r.Stats = TakeStats(s)
			r.Stats.Workers = countGoroutines("evpoll.(*Pool).work")
		case "settle":
			runtime.GC()
			debug.FreeOSMemory()
			if prefix != "" {
				if err := writeHeapProfile(prefix + ".heap.pprof"); err != nil {
					r.Err = err.Error()
				}
			}
			r.Stats = TakeStats(s)
		case "shutdown":
			if s.Shutdown == nil {
				r.Err = "no graceful shutdown in this row"
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), shutdownBound)
			start := time.Now()
			err := s.Shutdown(ctx)
			r.Elapsed = time.Since(start)
			cancel()
			if err != nil {
				r.Err = err.Error()
			}
			r.Stats = TakeStats(s)
		case "quit":
			if prefix != "" {
				// Every allocation of the child's life, for alloc_space and
				// alloc_objects.
				return writeHeapProfile(prefix + ".allocs.pprof")
			}
			return nil
		default:
			r.Err = fmt.Sprintf("unknown command %q", cmd)
		}
		if err := enc.Encode(&r); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	return sc.Err()
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Child is a server child seen from the benchmark process.
type Child struct {
	// Addr is the child's listening address, 127.0.0.1:PORT.
	Addr string

	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	dead chan struct{} // closed when the process has exited
}

// ChildConfig configures [StartChild].
type ChildConfig struct {
	// Ping sets the child's Options.Ping.
	Ping time.Duration
	// Profile is the child's EnvProfile path prefix, empty for none.
	Profile string
	// PongTimeout sets the child's Options.PongTimeout.
	PongTimeout time.Duration
	// Block sets the child's Options.Block.
	Block bool
}

// StartChild starts this executable again as a server child serving the
// row name. The executable must call [MaybeChild] at start (the bench test
// binary does, in TestMain).
func StartChild(name string, cfg ChildConfig) (*Child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), EnvServer+"="+name, EnvProfile+"="+cfg.Profile)
	if cfg.Ping > 0 {
		cmd.Env = append(cmd.Env, EnvPing+"="+cfg.Ping.String())
	}
	if cfg.PongTimeout > 0 {
		cmd.Env = append(cmd.Env, EnvPongTimeout+"="+cfg.PongTimeout.String())
	}
	if cfg.Block {
		cmd.Env = append(cmd.Env, EnvBlock+"=1")
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &Child{cmd: cmd, in: in, out: bufio.NewReader(stdout), dead: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(c.dead)
	}()
	line, err := c.out.ReadString('\n')
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("bench: child %s did not start: %w", name, err)
	}
	if _, err := fmt.Sscanf(line, "addr %s", &c.Addr); err != nil {
		c.Close()
		return nil, fmt.Errorf("bench: child %s: bad first line %q", name, line)
	}
	return c, nil
}

// URL returns the child's WebSocket URL.
func (c *Child) URL() string { return "ws://" + c.Addr + "/ws" }

// Pid returns the child's process ID.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

func (c *Child) call(cmd string) (reply, error) {
	var r reply
	if _, err := io.WriteString(c.in, cmd+"\n"); err != nil {
		return r, err
	}
	line, err := c.out.ReadBytes('\n')
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return r, err
	}
	if r.Err != "" {
		return r, errors.New(r.Err)
	}
	return r, nil
}

// Stats returns the child's figures now.
func (c *Child) Stats() (Stats, error) {
	r, err := c.call("stats")
	return r.Stats, err
}

// Census returns the child's figures with the event loop's pool workers
// counted ([Stats.Workers]; a walk of every goroutine's stack).
func (c *Child) Census() (Stats, error) {
	r, err := c.call("census")
	return r.Stats, err
}

// Settle runs a GC in the child, returns its freed memory to the OS (and
// writes its heap profile when profiling), then returns its figures.
func (c *Child) Settle() (Stats, error) {
	r, err := c.call("settle")
	return r.Stats, err
}

// Shutdown runs the row's graceful shutdown in the child and returns how
// long it took there (until every connection had ended).
func (c *Child) Shutdown() (time.Duration, Stats, error) {
	r, err := c.call("shutdown")
	return r.Elapsed, r.Stats, err
}

// Close ends the child: "quit", then a kill if it has not exited within
// 10 s.
func (c *Child) Close() error {
	io.WriteString(c.in, "quit\n")
	c.in.Close()
	select {
	case <-c.dead:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.dead
	}
	return nil
}
