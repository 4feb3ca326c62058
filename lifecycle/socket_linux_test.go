package lifecycle

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/wstest"
)

// ownedPair returns a socket the event loop owns (the server side of a
// loopback TCP connection) and its peer; both are closed when the test
// ends.
func ownedPair(t *testing.T, ln net.Listener) (*eventConn, net.Conn) {
	t.Helper()
	nc, peer := dialAccept(t, ln)
	sc := ownSocket(nc, &Conn{})
	if sc == nil {
		t.Fatal("ownSocket failed")
	}
	ec := sc.(*eventConn)
	t.Cleanup(func() {
		ec.Close()
		peer.Close()
	})
	return ec, peer
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// Writers that race a socket's Close never write to the socket that gets
// its descriptor number next: their calls either finish before the
// descriptor is closed or fail with net.ErrClosed.
func TestClosedSocketNeverWritesToItsSuccessor(t *testing.T) {
	ln := listen(t)
	reused := 0
	for range 50 {
		old, oldPeer := ownedPair(t, ln)
		oldFD := int(old.fd)
		go io.Copy(io.Discard, oldPeer) // keeps room for the old writers
		var writers sync.WaitGroup
		start := make(chan struct{})
		for range 4 {
			writers.Go(func() {
				<-start
				for {
					if _, err := old.Write(bytes.Repeat([]byte("stale"), 100)); err != nil {
						if !errors.Is(err, net.ErrClosed) {
							t.Errorf("write after close: %v, want net.ErrClosed", err)
						}
						return
					}
				}
			})
		}
		close(start)
		old.Close()
		// Connections made now get the closed number (the lowest free).
		var next, peers []net.Conn
		for range 4 {
			nc, peer := dialAccept(t, ln)
			next, peers = append(next, nc), append(peers, peer)
			for _, c := range []net.Conn{nc, peer} {
				if rc, err := c.(*net.TCPConn).SyscallConn(); err == nil {
					rc.Control(func(fd uintptr) {
						if int(fd) == oldFD {
							reused++
						}
					})
				}
			}
		}
		writers.Wait()
		for i, nc := range next {
			nc.Close() // after everything they were sent, if anything
			if b, err := io.ReadAll(peers[i]); len(b) > 0 || err != nil {
				t.Fatalf("a newer connection received %d bytes (%v): a closed socket's write", len(b), err)
			}
			peers[i].Close()
		}
	}
	if reused == 0 {
		t.Fatal("no newer connection got a closed socket's number: the test proved nothing")
	}
	t.Logf("%d of 50 closed numbers were reused at once", reused)
}

// A write that finds the socket full waits for room, and completes when
// the peer reads.
func TestOwnedSocketWriteWaitsForRoom(t *testing.T) {
	ec, peer := ownedPair(t, listen(t))
	payload := bytes.Repeat([]byte{'x'}, 16<<20) // far more than both buffers hold
	wrote := make(chan error, 1)
	go func() {
		_, err := ec.Write(payload)
		wrote <- err
	}()
	wstest.WaitFor(t, "the write waits for room", 10*time.Second, func() bool {
		w := ec.waits.Load()
		return w != nil && w.watching.Load()
	})
	n, err := io.CopyN(io.Discard, peer, int64(len(payload)))
	if err != nil || n != int64(len(payload)) {
		t.Fatalf("peer read %d: %v", n, err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}

// A write to a peer that never reads ends at its deadline; a deadline
// moved earlier while it waits takes effect at once.
func TestOwnedSocketWriteDeadline(t *testing.T) {
	ec, _ := ownedPair(t, listen(t))
	ec.SetWriteDeadline(time.Now().Add(time.Hour))
	wrote := make(chan error, 1)
	go func() {
		_, err := ec.Write(make([]byte, 64<<20))
		wrote <- err
	}()
	wstest.WaitFor(t, "the write waits for room", 10*time.Second, func() bool {
		w := ec.waits.Load()
		return w != nil && w.watching.Load()
	})
	ec.SetWriteDeadline(time.Now().Add(-time.Second))
	select {
	case err := <-wrote:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write error %v, want a timeout", err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("%v is not a net.Error timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting write ignored its new deadline")
	}
}

// A read waits for bytes, ends at its deadline, and is woken by Close and
// by the peer's end of stream.
func TestOwnedSocketReads(t *testing.T) {
	ln := listen(t)
	ec, peer := ownedPair(t, ln)
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, 5)
		n, _ := io.ReadFull(ec, b)
		got <- b[:n]
	}()
	peer.Write([]byte("hello"))
	if b := <-got; string(b) != "hello" {
		t.Fatalf("read %q", b)
	}

	ec.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := ec.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
	ec.SetReadDeadline(time.Time{})

	peer.(*net.TCPConn).CloseWrite()
	if _, err := ec.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read at the end of stream: %v, want io.EOF", err)
	}

	ec2, _ := ownedPair(t, ln)
	read := make(chan error, 1)
	go func() {
		_, err := ec2.Read(make([]byte, 1))
		read <- err
	}()
	wstest.WaitFor(t, "the read waits", 10*time.Second, func() bool { return ec2.waits.Load() != nil })
	ec2.Close()
	select {
	case err := <-read:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed socket: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake a waiting read")
	}
	if err := ec2.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// The owned socket keeps the addresses Go's had.
func TestOwnedSocketAddresses(t *testing.T) {
	ec, peer := ownedPair(t, listen(t))
	if got, want := ec.RemoteAddr().String(), peer.LocalAddr().String(); got != want {
		t.Errorf("RemoteAddr %s, want %s", got, want)
	}
	if got, want := ec.LocalAddr().String(), peer.RemoteAddr().String(); got != want {
		t.Errorf("LocalAddr %s, want %s", got, want)
	}
}

// dialAccept dials ln and returns the server's end of the connection and
// the peer's.
func dialAccept(t *testing.T, ln net.Listener) (server, peer net.Conn) {
	t.Helper()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		peer.Close()
		t.Fatal(err)
	}
	return server, peer
}
