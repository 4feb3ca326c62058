package wstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Redis topologies for tests: a Redis Cluster and a master with a replica
// watched by three sentinels, real redis-server processes on free
// 127.0.0.1 ports, each in a temporary directory, with Redis set to notice a
// failure in 2 s (cluster-node-timeout 2000, down-after-milliseconds 2000)
// and no persistence. They are started without a testing.T, so that a test
// package can start one once (in a sync.Once) and stop it in TestMain; Close
// kills every process and removes the directories.

// ErrRedisMissing is returned when redis-server or redis-cli is not
// installed; report it with Missing.
var ErrRedisMissing = errors.New("redis-server and redis-cli are needed (Debian: redis-server, redis-tools)")

// RedisProc is one redis-server process of a topology (a data node or a
// sentinel). Kill, Freeze, Thaw and Restart inject the faults.
type RedisProc struct {
	Addr string
	Port int
	bin  string
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    bytes.Buffer // written by the process; read after it exited
}

func redisBinaries() (server, cli string, err error) {
	server, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err1 != nil || err2 != nil {
		return "", "", ErrRedisMissing
	}
	return server, cli, nil
}

// startProc starts redis-server with args (its port and directory come
// first) and waits until it answers PING.
func startProc(bin, dir string, port int, args ...string) (*RedisProc, error) {
	p := &RedisProc{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Port: port,
		bin:  bin,
		args: args,
	}
	return p, p.start()
}

func (p *RedisProc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Reset()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited
	deadline := time.Now().Add(10 * time.Second)
	for redisPing(p.Addr) != nil {
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited: %s", p.Addr, strings.TrimSpace(p.out.String()))
		case <-time.After(20 * time.Millisecond): // readiness poll interval
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server on %s not ready in 10s", p.Addr)
		}
	}
	return nil
}

// PID returns the process's ID, 0 when it is not running.
func (p *RedisProc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process is alive (it may be frozen).
func (p *RedisProc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runningLocked()
}

func (p *RedisProc) runningLocked() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and waits for the process to exit (a frozen one too).
func (p *RedisProc) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.runningLocked() {
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// Freeze stops the process (SIGSTOP): its sockets stay open and silent.
func (p *RedisProc) Freeze() error { return p.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen process (SIGCONT).
func (p *RedisProc) Thaw() error { return p.signal(syscall.SIGCONT) }

func (p *RedisProc) signal(s syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return fmt.Errorf("redis-server on %s is not running", p.Addr)
	}
	return p.cmd.Process.Signal(s)
}

// Restart starts a killed process again with the same port, directory and
// configuration (without persistence its data is gone; a cluster node keeps
// its nodes.conf and rejoins).
func (p *RedisProc) Restart() error {
	if p.Running() {
		return fmt.Errorf("redis-server on %s is still running", p.Addr)
	}
	return p.start()
}

// CLI runs redis-cli against the process, bounded by 2 s, and returns its
// output.
func (p *RedisProc) CLI(args ...string) (string, error) {
	return cli(p.Port, args...)
}

func cli(port int, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("redis-cli -p %d %s: %w: %s", port, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// infoField returns the value of field in the "field:value" lines of an
// INFO (or CLUSTER INFO) answer.
func infoField(info, field string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}

// topology is the processes of one topology and their directory.
type topology struct {
	dir   string
	procs []*RedisProc
}

// add starts one more redis-server in its own subdirectory of t.dir; args
// follow the common ones (port, bind, no persistence, that directory).
func (t *topology) add(bin string, conf string, args ...string) (*RedisProc, error) {
	var lastErr error
	for range 5 { // a free port may be taken before redis-server binds it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(t.dir, strconv.Itoa(port))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		full := []string{}
		if conf != "" {
			path := filepath.Join(dir, "redis.conf")
			if err := os.WriteFile(path, []byte(strings.ReplaceAll(conf, "$PORT", strconv.Itoa(port))), 0o644); err != nil {
				return nil, err
			}
			full = append(full, path)
		}
		full = append(full, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no", "--loglevel", "warning")
		p, err := startProc(bin, dir, port, append(full, args...)...)
		if err == nil {
			t.procs = append(t.procs, p)
			return p, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func (t *topology) close() {
	for _, p := range t.procs {
		p.Thaw() // a frozen process would keep its sockets open
		p.Kill()
	}
	os.RemoveAll(t.dir)
}

// poll calls cond every 50 ms until it returns nil or d has passed, and
// returns its last error.
func poll(d time.Duration, cond func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		<-time.After(50 * time.Millisecond) // poll interval: Redis announces nothing
	}
}

// RedisCluster is a Redis Cluster of real processes.
type RedisCluster struct {
	topology
	// Nodes are the cluster's processes, masters first as created.
	Nodes []*RedisProc
}

// StartRedisCluster starts masters×(1+replicas) cluster nodes, joins them
// with redis-cli --cluster create, and waits until the cluster is healthy.
func StartRedisCluster(masters, replicas int) (*RedisCluster, error) {
	bin, _, err := redisBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "wsmw-cluster-")
	if err != nil {
		return nil, err
	}
	c := &RedisCluster{topology: topology{dir: dir}}
	for range masters * (1 + replicas) {
		p, err := c.add(bin, "", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000")
		if err != nil {
			c.Close()
			return nil, err
		}
		c.Nodes = append(c.Nodes, p)
	}
	create := append([]string{"--cluster", "create"}, c.Addrs()...)
	create = append(create, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "redis-cli", create...).CombinedOutput(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis-cli --cluster create: %w: %s", err, out)
	}
	return healthy(c, c.WaitHealthy, c.Close)
}

// healthy returns t once wait (for 30 s) says it is healthy, or closes it.
func healthy[T any](t T, wait func(time.Duration) error, close func()) (T, error) {
	if err := wait(30 * time.Second); err != nil {
		close()
		var zero T
		return zero, err
	}
	return t, nil
}

// Addrs returns every node's address.
func (c *RedisCluster) Addrs() []string { return addrsOf(c.Nodes) }

func addrsOf(procs []*RedisProc) []string {
	addrs := make([]string, len(procs))
	for i, p := range procs {
		addrs[i] = p.Addr
	}
	return addrs
}

// Node returns the process listening on addr, nil if none.
func (c *RedisCluster) Node(addr string) *RedisProc {
	for _, p := range c.Nodes {
		if p.Addr == addr {
			return p
		}
	}
	return nil
}

// WaitHealthy waits until every node runs, says cluster_state:ok, sees no
// failed node, and every replica's link to its master is up.
func (c *RedisCluster) WaitHealthy(d time.Duration) error {
	return poll(d, func() error {
		for _, p := range c.Nodes {
			if !p.Running() {
				return fmt.Errorf("cluster node %s is not running", p.Addr)
			}
			info, err := p.CLI("cluster", "info")
			if err != nil {
				return err
			}
			if s := infoField(info, "cluster_state"); s != "ok" {
				return fmt.Errorf("cluster node %s: cluster_state %q", p.Addr, s)
			}
			nodes, err := p.CLI("cluster", "nodes")
			if err != nil {
				return err
			}
			if strings.Contains(nodes, "fail") {
				return fmt.Errorf("cluster node %s sees a failed node:\n%s", p.Addr, nodes)
			}
			repl, err := p.CLI("info", "replication")
			if err != nil {
				return err
			}
			if infoField(repl, "role") == "slave" && infoField(repl, "master_link_status") != "up" {
				return fmt.Errorf("cluster replica %s: link to its master is down", p.Addr)
			}
		}
		return nil
	})
}

// Close kills every node and removes their directories.
func (c *RedisCluster) Close() { c.close() }

// RedisSentinel is a master and a replica watched by three sentinels
// (quorum 2), real processes.
type RedisSentinel struct {
	topology
	// Name is the master's name for the sentinels (MasterName in go-redis).
	Name string
	// Data are the master and the replica, in the order started; which is
	// the master changes with failovers (see Master).
	Data []*RedisProc
	// Sentinels are the three sentinels.
	Sentinels []*RedisProc
}

// sentinelConf is a sentinel's configuration file (sentinels rewrite it,
// so each has its own); %s is the master's name, %d its port.
const sentinelConf = `sentinel monitor %[1]s 127.0.0.1 %[2]d 2
sentinel down-after-milliseconds %[1]s 2000
sentinel failover-timeout %[1]s 5000
sentinel parallel-syncs %[1]s 1
`

// StartRedisSentinel starts a master, its replica and three sentinels
// (redis-server --sentinel) that watch it as name, and waits until the
// sentinels know each other and the replica.
func StartRedisSentinel(name string) (*RedisSentinel, error) {
	bin, _, err := redisBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "wsmw-sentinel-")
	if err != nil {
		return nil, err
	}
	s := &RedisSentinel{topology: topology{dir: dir}, Name: name}
	master, err := s.add(bin, "")
	if err != nil {
		s.Close()
		return nil, err
	}
	replica, err := s.add(bin, "", "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Data = []*RedisProc{master, replica}
	for range 3 {
		p, err := s.add(bin, fmt.Sprintf(sentinelConf, name, master.Port), "--sentinel")
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Sentinels = append(s.Sentinels, p)
	}
	return healthy(s, s.WaitHealthy, s.Close)
}

// SentinelAddrs returns the sentinels' addresses.
func (s *RedisSentinel) SentinelAddrs() []string { return addrsOf(s.Sentinels) }

// MasterAddr returns the master's address as the first sentinel that
// answers knows it.
func (s *RedisSentinel) MasterAddr() (string, error) {
	var lastErr error
	for _, p := range s.Sentinels {
		out, err := p.CLI("sentinel", "get-master-addr-by-name", s.Name)
		if err != nil {
			lastErr = err
			continue
		}
		f := strings.Fields(out)
		if len(f) != 2 {
			lastErr = fmt.Errorf("sentinel %s: unexpected answer %q", p.Addr, out)
			continue
		}
		return net.JoinHostPort(f[0], f[1]), nil
	}
	return "", lastErr
}

// Master returns the process the sentinels name as the master.
func (s *RedisSentinel) Master() (*RedisProc, error) {
	addr, err := s.MasterAddr()
	if err != nil {
		return nil, err
	}
	for _, p := range s.Data {
		if p.Addr == addr {
			return p, nil
		}
	}
	return nil, fmt.Errorf("the sentinels name %s, not one of ours", addr)
}

// WaitHealthy waits until both data nodes run, every sentinel names the
// same master, sees it up with its replica and the two other sentinels,
// and the master has its replica connected.
func (s *RedisSentinel) WaitHealthy(d time.Duration) error {
	return poll(d, func() error {
		for _, p := range append(s.Data, s.Sentinels...) {
			if !p.Running() {
				return fmt.Errorf("%s is not running", p.Addr)
			}
		}
		want := ""
		for _, p := range s.Sentinels {
			out, err := p.CLI("sentinel", "master", s.Name)
			if err != nil {
				return err
			}
			fields := map[string]string{}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			for i := 0; i+1 < len(lines); i += 2 {
				fields[strings.TrimSpace(lines[i])] = strings.TrimSpace(lines[i+1])
			}
			addr := net.JoinHostPort(fields["ip"], fields["port"])
			switch {
			case want != "" && addr != want:
				return fmt.Errorf("sentinels disagree on the master: %s and %s", want, addr)
			case fields["flags"] != "master":
				return fmt.Errorf("sentinel %s: master flags %q", p.Addr, fields["flags"])
			case fields["num-slaves"] != "1", fields["num-other-sentinels"] != "2":
				return fmt.Errorf("sentinel %s: %s replicas, %s other sentinels", p.Addr, fields["num-slaves"], fields["num-other-sentinels"])
			}
			want = addr
		}
		m, err := s.Master()
		if err != nil {
			return err
		}
		repl, err := m.CLI("info", "replication")
		if err != nil {
			return err
		}
		if infoField(repl, "role") != "master" || infoField(repl, "connected_slaves") != "1" {
			return fmt.Errorf("master %s: role %s, %s replicas connected", m.Addr, infoField(repl, "role"), infoField(repl, "connected_slaves"))
		}
		for _, p := range s.Data {
			if p == m {
				continue
			}
			r, err := p.CLI("info", "replication")
			if err != nil {
				return err
			}
			if infoField(r, "master_link_status") != "up" {
				return fmt.Errorf("replica %s: link to the master is down", p.Addr)
			}
		}
		return nil
	})
}

// Close kills every process and removes their directories.
func (s *RedisSentinel) Close() { s.close() }
