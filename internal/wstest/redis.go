package wstest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// StartRedis starts a private redis-server on a free 127.0.0.1 port, with no
// persistence, and returns its address ("127.0.0.1:N") and a stop function
// that kills it and waits for it to exit. stop is idempotent and also runs
// when the test ends. When redis-server is not installed, the test is
// skipped (or failed under WSMW_REQUIRE_INTEGRATION=1) through Missing.
func StartRedis(t testing.TB) (addr string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Missing(t, "redis-server", "not found on PATH")
		return "", func() {}
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("wstest: free port: %v", err)
		}
		addr, stop, err := startRedisOn(t, bin, port)
		if err == nil {
			return addr, stop
		}
		lastErr = err
	}
	t.Fatalf("wstest: start redis-server: %v", lastErr)
	return "", func() {}
}

// freePort asks the kernel for a free 127.0.0.1 TCP port. Another process
// may take it before redis-server binds; [StartRedis] retries on that.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func startRedisOn(t testing.TB, bin string, port int) (string, func(), error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var out bytes.Buffer
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", t.TempDir(),
		"--loglevel", "warning",
	)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Kill()
			<-exited
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if redisPing(addr) == nil {
			t.Cleanup(stop)
			return addr, stop, nil
		}
		select {
		case <-exited:
			return "", nil, fmt.Errorf("redis-server on port %d exited: %s", port, strings.TrimSpace(out.String()))
		case <-time.After(20 * time.Millisecond): // poll interval for readiness, not synchronisation
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("redis-server on port %d not ready in 10s: %s", port, strings.TrimSpace(out.String()))
		}
	}
}

// redisPing sends PING over RESP and expects +PONG.
func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redis: unexpected reply %q", line)
	}
	return nil
}
