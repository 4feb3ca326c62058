package evpoll

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// runChild runs the test binary as a helper process when childEnv is set
// to "dial ADDR N" or "ws ADDR N": it opens N TCP connections to ADDR
// (with "ws", each makes a WebSocket handshake), prints "ready", and
// holds them until its stdin closes. Holding the client ends in
// another process keeps each process under its descriptor limit. It
// reports whether it ran (TestMain then returns).
func runChild() bool {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return false
	}
	f := strings.Fields(spec)
	if len(f) == 5 && f[0] == "echo" {
		echoClients(f[1:])
		return true
	}
	if len(f) != 3 || (f[0] != "dial" && f[0] != "ws") {
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
		if err == nil && f[0] == "ws" {
			err = clientHandshake(c)
		}
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

// echoClients is the child's "echo ADDR CONNS SIZE N": CONNS gorilla
// clients make N round trips in all with SIZE-byte messages, each
// carrying its send time (wall clock, which both processes share), and
// the child prints "done".
func echoClients(args []string) {
	conns, _ := strconv.Atoi(args[1])
	size, _ := strconv.Atoi(args[2])
	n, _ := strconv.ParseInt(args[3], 10, 64)
	clients := make([]*websocket.Conn, conns)
	for i := range clients {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+args[0]+"/ws", nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "dial:", err)
			os.Exit(1)
		}
		clients[i] = c
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n') // go
	var left atomic.Int64
	left.Store(n)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, max(size, 8))
			for left.Add(-1) >= 0 {
				binary.LittleEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
				if c.WriteMessage(websocket.BinaryMessage, msg) != nil {
					os.Exit(1)
				}
				if _, _, err := c.ReadMessage(); err != nil {
					os.Exit(1)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Println("done")
	for _, c := range clients {
		c.Close()
	}
}

// clientHandshake makes a WebSocket client handshake on c.
func clientHandshake(c net.Conn) error {
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("handshake: %s", resp.Status)
	}
	return nil
}

// echoChild starts a helper process running echoClients. start tells it
// to go and waits until it is done.
func echoChild(tb testing.TB, addr string, conns, size int, n int64) (ready <-chan error, start func() error, stop func()) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=echo %s %d %d %d", childEnv, addr, conns, size, n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	r := make(chan error, 1)
	go func() {
		line, err := out.ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("child said %q", line)
		}
		r <- err
	}()
	start = func() error {
		io.WriteString(stdin, "go\n")
		line, err := out.ReadString('\n')
		if err == nil && line != "done\n" {
			err = fmt.Errorf("child said %q", line)
		}
		return err
	}
	return r, start, func() {
		stdin.Close()
		cmd.Wait()
	}
}

// dialChild starts a helper process that dials n connections to addr
// (kind "dial" or "ws", see runChild). The returned function ends it and
// waits for it.
func dialChild(t testing.TB, kind, addr string, n int) (ready <-chan error, stop func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+kind+" "+addr+" "+strconv.Itoa(n))
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
