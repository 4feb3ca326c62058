package evpoll

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// runChild runs the test binary as a helper process when childEnv is set
// to "dial ADDR N": it opens N TCP connections to ADDR, prints "ready",
// and holds them until its stdin closes. Holding the client ends in
// another process keeps each process under its descriptor limit. It
// reports whether it ran (TestMain then returns).
func runChild() bool {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return false
	}
	f := strings.Fields(spec)
	if len(f) != 3 || f[0] != "dial" {
		fmt.Fprintln(os.Stderr, "bad", childEnv, spec)
		os.Exit(2)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		os.Exit(2)
	}
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", f[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			os.Exit(1)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
	for _, c := range conns {
		c.Close()
	}
	return true
}

// dialChild starts a helper process that dials n connections to addr. The
// returned function ends it and waits for it.
func dialChild(t testing.TB, addr string, n int) (ready <-chan error, stop func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=dial "+addr+" "+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("child said %q", line)
		}
		r <- err
	}()
	return r, func() {
		stdin.Close()
		cmd.Wait()
	}
}
