//go:build linux

package evpoll

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

type event struct {
	id uint64
	ev Events
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// pair returns the client and server ends of a loopback TCP connection.
func pair(t testing.TB, ln net.Listener) (client net.Conn, server *net.TCPConn) {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return client, s.(*net.TCPConn)
}

func rawOf(t testing.TB, c syscall.Conn) syscall.RawConn {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func fdOf(t testing.TB, rc syscall.RawConn) int {
	t.Helper()
	var fd int
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// newPoller returns a Poller whose handler reports on the returned
// channel (buffered) and closes it at the end of the test.
func newPoller(t *testing.T, opts ...Option) (*Poller, chan event) {
	t.Helper()
	events := make(chan event, 1024)
	p, err := New(func(id uint64, ev Events) {
		select {
		case events <- event{id, ev}:
		default: // a test that floods the channel does not read it
		}
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, events
}

func TestPollerLevelTriggeredOneShot(t *testing.T) {
	ln := listen(t)
	p, events := newPoller(t)
	client, server := pair(t, ln)
	defer client.Close()
	defer server.Close()
	rc := rawOf(t, server)
	const id = 0xdeadbeef_cafef00d // all 64 bits come back
	if err := p.Add(rc, id); err != nil {
		t.Fatal(err)
	}
	client.Write([]byte("ab"))
	if e := recv(t, events, wait, "a wake-up"); e.id != id || e.ev != Readable {
		t.Fatalf("got %x %v, want %x readable", e.id, e.ev, uint64(id))
	}
	// Disarmed: nothing more until Rearm. Bytes still unread make the
	// re-armed connection wake again at once (level-triggered).
	if err := p.Rearm(rc, id+1); err != nil {
		t.Fatal(err)
	}
	if e := recv(t, events, wait, "a wake-up for unread bytes"); e.id != id+1 {
		t.Fatalf("re-armed under a new id: got %x", e.id)
	}
	buf := make([]byte, 8)
	if n, _ := server.Read(buf); n != 2 {
		t.Fatalf("read %d bytes", n)
	}
	if err := p.Rearm(rc, id); err != nil {
		t.Fatal(err)
	}
	// Nothing is readable now: a second connection's wake-up comes first.
	c2, s2 := pair(t, ln)
	defer c2.Close()
	defer s2.Close()
	if err := p.Add(rawOf(t, s2), 7); err != nil {
		t.Fatal(err)
	}
	c2.Write([]byte("x"))
	if e := recv(t, events, wait, "the second connection"); e.id != 7 {
		t.Fatalf("woke %x with nothing to read", e.id)
	}
	client.Write([]byte("c"))
	if e := recv(t, events, wait, "a wake-up after re-arming"); e.id != id {
		t.Fatalf("got %x", e.id)
	}
	// The loop counts an event once it is queued, which may be after the
	// handler has run.
	if !eventually(wait, func() bool { s := p.Stats(); return s.Registered == 2 && s.Events == 4 }) {
		t.Fatalf("stats %+v", p.Stats())
	}
	if !raceEnabled { // the race detector makes sync.Pool drop items
		if a := testing.AllocsPerRun(100, func() { p.Rearm(rc, id) }); a != 0 {
			t.Fatalf("Rearm allocates %v times", a)
		}
	}
}

func TestPollerReportsHangups(t *testing.T) {
	ln := listen(t)
	p, events := newPoller(t)

	// The peer shuts down writing: readable (EOF) and peer-closed.
	c1, s1 := pair(t, ln)
	defer s1.Close()
	p.Add(rawOf(t, s1), 1)
	c1.(*net.TCPConn).CloseWrite()
	if e := recv(t, events, wait, "FIN"); e.ev&(Readable|PeerClosed) != Readable|PeerClosed {
		t.Fatalf("after the peer's FIN: %v", e.ev)
	}
	c1.Close()

	// The peer resets: hang-up or error.
	c2, s2 := pair(t, ln)
	defer s2.Close()
	p.Add(rawOf(t, s2), 2)
	c2.(*net.TCPConn).SetLinger(0)
	c2.Close()
	if e := recv(t, events, wait, "RST"); e.ev&(Hangup|Error) == 0 {
		t.Fatalf("after the peer's RST: %v", e.ev)
	}
}

func TestPollerErrors(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Fatal("New(nil) succeeded")
	}
	ln := listen(t)
	p, _ := newPoller(t)
	client, server := pair(t, ln)
	defer client.Close()
	rc := rawOf(t, server)
	if err := p.Rearm(rc, 1); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("Rearm before Add: %v", err)
	}
	if err := p.Remove(rc); err != nil {
		t.Fatalf("Remove before Add: %v", err)
	}
	if err := p.Add(rc, 1); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(rc, 2); err == nil {
		t.Fatal("second Add succeeded")
	}
	if err := p.Remove(rc); err != nil {
		t.Fatal(err)
	}
	if err := p.Rearm(rc, 1); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("Rearm after Remove: %v", err)
	}
	server.Close()
	if err := p.Add(rc, 3); err == nil {
		t.Fatal("Add of a closed connection succeeded")
	}
	if s := p.Stats(); s.Registered != 0 {
		t.Fatalf("registered %d", s.Registered)
	}
}

// A connection is removed and closed, and a new one gets its descriptor
// number. A wake-up queued before Remove still names the old id, and the
// new registration only ever reports the new id.
func TestPollerRemoveThenReuseOfTheDescriptor(t *testing.T) {
	ln := listen(t)
	pool := NewPool(PoolConfig{MinWorkers: 1, MaxWorkers: 1, NoHandOff: true})
	defer pool.Close()
	p, events := newPoller(t, WithPool(pool))

	for attempt := 0; ; attempt++ {
		ca, sa := pair(t, ln)
		rca := rawOf(t, sa)
		fd := fdOf(t, rca)
		if err := p.Add(rca, 1); err != nil {
			t.Fatal(err)
		}
		release := gate(t, pool) // the only worker: A's wake-up stays queued
		ca.Write([]byte("old"))
		if !eventually(wait, func() bool { return pool.Stats().QueuedHigh == 1 }) {
			t.Fatal("A's wake-up was not queued")
		}
		if err := p.Remove(rca); err != nil {
			t.Fatal(err)
		}
		// Dial first, so that the client end does not take the number.
		cb, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		sa.Close()
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		sb := s.(*net.TCPConn)
		rcb := rawOf(t, sb)
		if fdOf(t, rcb) != fd {
			// Another descriptor was free first; try again.
			release()
			recv(t, events, wait, "A's wake-up")
			ca.Close()
			cb.Close()
			sb.Close()
			if attempt == 10 {
				t.Skip("the descriptor number was never reused")
			}
			continue
		}
		if err := p.Add(rcb, 2); err != nil {
			t.Fatal(err)
		}
		ca.Write([]byte("more for A, which is gone"))
		cb.Write([]byte("new"))
		release()
		if e := recv(t, events, wait, "the queued wake-up"); e.id != 1 {
			t.Fatalf("first event %x, want A's queued one", e.id)
		}
		if e := recv(t, events, wait, "B's wake-up"); e.id != 2 {
			t.Fatalf("second event %x, want B's", e.id)
		}
		// B, re-armed with its bytes unread, wakes again, as B.
		p.Rearm(rcb, 2)
		if e := recv(t, events, wait, "B again"); e.id != 2 {
			t.Fatalf("event %x on the reused descriptor, want 2", e.id)
		}
		p.Remove(rcb)
		ca.Close()
		cb.Close()
		sb.Close()
		return
	}
}

// Close while wake-ups are being produced, queued and handled, with
// handlers re-arming: no panic, no goroutine left (goleak), and the
// Poller refuses work afterwards.
func TestPollerCloseWithEventsInFlight(t *testing.T) {
	ln := listen(t)
	type conn struct {
		client net.Conn
		server *net.TCPConn
		rc     syscall.RawConn
	}
	const n = 32
	conns := make([]conn, n)
	var p *Poller
	var handled atomic.Int64
	var rearmErrs sync.Map
	ready := make(chan struct{})
	var err error
	p, err = New(func(id uint64, ev Events) {
		<-ready
		c := conns[id]
		buf := make([]byte, 4096)
		c.server.Read(buf) // readable: does not block
		handled.Add(1)
		if err := p.Rearm(c.rc, id); err != nil {
			rearmErrs.Store(err.Error(), true)
		}
	}, WithPoolConfig(PoolConfig{MinWorkers: 4}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range conns {
		c, s := pair(t, ln)
		conns[i] = conn{c, s, rawOf(t, s)}
		if err := p.Add(conns[i].rc, uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	close(ready)
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for _, c := range conns {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.client.Write([]byte("tick")); err != nil {
					return
				}
			}
		}()
	}
	start := time.Now()
	if !eventually(wait, func() bool { return handled.Load() > 1000 }) {
		t.Fatal("handlers are not running")
	}
	t.Logf("1000 handled in %v", time.Since(start))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	after := handled.Load()
	if err := p.Add(conns[0].rc, 99); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	if err := p.Rearm(conns[0].rc, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Rearm after Close: %v", err)
	}
	if err := p.Remove(conns[0].rc); err != nil {
		t.Fatalf("Remove after Close: %v", err)
	}
	t.Logf("closed after %v", time.Since(start))
	close(stop)
	for _, c := range conns {
		c.server.Close()
		c.client.Close()
	}
	writers.Wait()
	if handled.Load() != after {
		t.Fatal("a handler ran after Close returned")
	}
	rearmErrs.Range(func(k, _ any) bool {
		if k != ErrClosed.Error() {
			t.Errorf("Rearm failed with %v", k)
		}
		return true
	})
	p.Close() // again
}

// What is written before Add or Rearm is visible to the handler of the
// next wake-up, without other synchronisation (the race detector checks).
func TestPollerHandlerSeesWritesBeforeArming(t *testing.T) {
	ln := listen(t)
	client, server := pair(t, ln)
	defer client.Close()
	defer server.Close()
	rc := rawOf(t, server)
	state := 0 // no lock, no atomic: only the Poller orders it
	got := make(chan int, 1)
	p, err := New(func(id uint64, ev Events) {
		v := state // before touching the connection, whose own locks would order it
		buf := make([]byte, 16)
		server.Read(buf)
		got <- v
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	state = 1
	if err := p.Add(rc, 1); err != nil {
		t.Fatal(err)
	}
	client.Write([]byte("a"))
	if v := recv(t, got, wait, "the first wake-up"); v != 1 {
		t.Fatalf("handler saw %d, want 1", v)
	}
	state = 2
	if err := p.Rearm(rc, 1); err != nil {
		t.Fatal(err)
	}
	client.Write([]byte("b"))
	if v := recv(t, got, wait, "the second wake-up"); v != 2 {
		t.Fatalf("handler saw %d, want 2", v)
	}
}
