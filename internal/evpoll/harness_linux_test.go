//go:build linux

package evpoll

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// evServer is a minimal event-mode WebSocket server built on the package
// the way the core is meant to wire it (and a reference for doing so):
//
//   - the upgrade goes through a Hijack that hands gorilla a bufio.Reader
//     we own (ReadBufferSize 0, reader above 256 bytes), so Buffered and
//     Peek see everything gorilla will read;
//   - the connection is registered with the Poller under an id that is
//     never reused; the handler looks the id up and ignores stale ones;
//   - a wake-up clears a read deadline left set, reads once, then consumes
//     whole control frames and hands gorilla whole messages until the
//     buffer holds no complete unit, and only then re-arms;
//   - a message too big for the buffer (or stalled with control frames
//     inside) is read the blocking way in a goroutine of its own under a
//     read deadline, after which the connection goes back to events;
//   - Remove comes before Close;
//   - an idle connection's read buffer goes back to a BufferPool (Detach
//     before Rearm when nothing is buffered, Attach on the next wake-up).
//
// In goroutine mode (events false) it runs the classic read loop, for
// comparison.
type evServer struct {
	tb        testing.TB
	ln        net.Listener
	events    bool
	poller    *Poller
	bufs      *BufferPool
	bufSize   int
	slowLimit time.Duration // read deadline of the blocking path
	onMessage func(c *evConn, mt int, data []byte)

	mu     sync.Mutex
	conns  map[uint64]*evConn
	nextID uint64

	accepted   chan *evConn
	acceptDone chan struct{}
	wg         sync.WaitGroup // read loops, blocking paths
	slow       atomic.Int64   // blocking-path reads so far
}

type evConn struct {
	id    uint64
	nc    *net.TCPConn
	rc    syscall.RawConn
	src   *tapReader // under br
	br    *bufio.Reader
	ws    *websocket.Conn
	pongs atomic.Int64
	// deadline: a read deadline may be set (by the blocking path). A
	// wake-up clears it only then: SetReadDeadline costs a runtime call.
	deadline bool
	gone     chan struct{}
	once     sync.Once
}

type serverOpts struct {
	events    bool
	pool      PoolConfig
	bufSize   int
	slowLimit time.Duration
	onMessage func(c *evConn, mt int, data []byte)
}

func startServer(tb testing.TB, o serverOpts) *evServer {
	tb.Helper()
	if o.bufSize == 0 {
		o.bufSize = 4096
	}
	if o.slowLimit == 0 {
		o.slowLimit = 10 * time.Second
	}
	if o.onMessage == nil {
		o.onMessage = func(c *evConn, mt int, data []byte) { c.ws.WriteMessage(mt, data) }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &evServer{
		tb: tb, ln: ln, events: o.events, bufSize: o.bufSize, slowLimit: o.slowLimit,
		onMessage: o.onMessage, conns: map[uint64]*evConn{}, accepted: make(chan *evConn, 1<<16),
		acceptDone: make(chan struct{}),
	}
	if o.events {
		s.poller, err = New(s.wake, WithPoolConfig(o.pool))
		if err != nil {
			tb.Fatal(err)
		}
		s.bufs = NewBufferPool(o.bufSize)
	}
	go s.acceptLoop()
	tb.Cleanup(s.close)
	return s
}

func (s *evServer) addr() string { return s.ln.Addr().String() }

func (s *evServer) acceptLoop() {
	defer close(s.acceptDone)
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.handshake(nc.(*net.TCPConn))
	}
}

func (s *evServer) handshake(nc *net.TCPConn) {
	br := bufio.NewReaderSize(nc, s.bufSize)
	req, err := http.ReadRequest(br)
	if err != nil {
		nc.Close()
		return
	}
	ws, err := upgrade(nc, br, req, false)
	if err != nil {
		nc.Close()
		return
	}
	rc, _ := nc.SyscallConn()
	// Gorilla reset br onto nc; put the tap under it (nothing is buffered
	// right after the upgrade).
	src := &tapReader{nc: nc}
	br.Reset(src)
	s.mu.Lock()
	s.nextID++
	c := &evConn{id: s.nextID, nc: nc, rc: rc, src: src, br: br, ws: ws, gone: make(chan struct{})}
	s.conns[c.id] = c
	s.mu.Unlock()
	ws.SetPongHandler(func(string) error { c.pongs.Add(1); return nil })
	s.accepted <- c
	if !s.events {
		s.wg.Add(1)
		go s.readLoop(c)
		return
	}
	s.bufs.Detach(br) // idle until the first wake-up
	if err := s.poller.Add(rc, c.id); err != nil {
		s.drop(c)
	}
}

func (s *evServer) readLoop(c *evConn) {
	defer s.wg.Done()
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			s.drop(c)
			return
		}
		s.onMessage(c, mt, data)
	}
}

// drop ends a connection: unregister, then close.
func (s *evServer) drop(c *evConn) {
	c.once.Do(func() {
		s.mu.Lock()
		delete(s.conns, c.id)
		s.mu.Unlock()
		if s.events {
			s.poller.Remove(c.rc)
		}
		c.nc.Close()
		close(c.gone)
	})
}

func (s *evServer) lookup(id uint64) *evConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

// wake is the Poller's handler.
func (s *evServer) wake(id uint64, ev Events) {
	c := s.lookup(id)
	if c == nil {
		return // queued before its connection was removed
	}
	if c.deadline { // left by a blocking read: it would fail the next read
		c.nc.SetReadDeadline(time.Time{})
		c.deadline = false
	}
	if c.br.Size() == 0 {
		s.bufs.Attach(c.br, c.src)
	}
	var eof bool
	if c.br.Buffered() < c.br.Size() {
		// One read: the socket is readable, so it does not block.
		if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil {
			eof = true
		}
	}
	s.consume(c, eof)
}

// consume handles what the buffer holds, then re-arms (or hands the
// connection to the blocking path, or drops it).
func (s *evServer) consume(c *evConn, eof bool) {
	rules := Rules{}
	for c.br.Buffered() > 0 {
		m, err := ScanMessage(c.br, rules)
		var fe *FrameError
		switch {
		case errors.As(err, &fe) && fe.Stricter:
			c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, fe.Reason), time.Now().Add(time.Second))
			s.drop(c)
			return
		case err != nil, m.Status.Ready():
			// A whole message, or a bad frame gorilla fails on as in a
			// read loop: either way its read cannot block.
			before := c.br.Buffered()
			mt, data, rerr := c.ws.ReadMessage()
			if rerr != nil {
				s.drop(c)
				return
			}
			if err != nil || before-c.br.Buffered() != m.Wire {
				// Only a compressed message whose deflate stream ends
				// before the message does gets here: gorilla would skip
				// the rest later; fail the connection instead.
				c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, "deflate stream ends early"), time.Now().Add(time.Second))
				s.drop(c)
				return
			}
			s.onMessage(c, mt, data)
		case m.Status == TooBig, m.Status == Stalled:
			s.wg.Add(1)
			s.slow.Add(1)
			go s.blocking(c)
			return
		default: // Incomplete
			for range m.Leading {
				h, payload, _, _ := ReadControl(c.br, rules)
				switch h.Opcode {
				case OpPing:
					c.ws.PingHandler()(string(payload))
				case OpPong:
					c.ws.PongHandler()(string(payload))
				}
			}
			if eof {
				s.drainAtEOF(c)
				return
			}
			s.rearm(c)
			return
		}
	}
	if eof {
		s.drop(c)
		return
	}
	s.rearm(c)
}

func (s *evServer) drainAtEOF(c *evConn) {
	// The peer is gone: gorilla reads the rest to the end of the stream
	// without blocking and fails as in a read loop.
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			s.drop(c)
			return
		}
		s.onMessage(c, mt, data)
	}
}

func (s *evServer) rearm(c *evConn) {
	s.bufs.Detach(c.br) // only if nothing is buffered
	if err := s.poller.Rearm(c.rc, c.id); err != nil {
		s.drop(c)
	}
}

// blocking reads one message the blocking way, following it with a
// Follower to check that gorilla stopped at its end, then goes back to
// events through the pool (the bytes after the message may already be
// buffered, and they would not wake epoll).
func (s *evServer) blocking(c *evConn) {
	defer s.wg.Done()
	var f Follower
	p, _ := c.br.Peek(c.br.Buffered())
	f.Write(p)
	c.src.tap = &f
	c.deadline = true
	c.nc.SetReadDeadline(time.Now().Add(s.slowLimit))
	mt, data, err := c.ws.ReadMessage()
	if c.nc.SetReadDeadline(time.Time{}) == nil {
		c.deadline = false
	}
	c.src.tap = nil
	if err != nil {
		s.drop(c)
		return
	}
	if end, ok := f.End(); !ok || f.Fed()-int64(c.br.Buffered()) != end {
		// A deflate stream that ended inside the message: gorilla would
		// skip the rest on its next read, which may block.
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, "deflate stream ends early"), time.Now().Add(time.Second))
		s.drop(c)
		return
	}
	s.onMessage(c, mt, data)
	if s.poller.Pool().Submit(High, func() { s.consume(c, false) }) != nil {
		s.drop(c)
	}
}

func (s *evServer) close() {
	s.ln.Close()
	<-s.acceptDone
	s.mu.Lock()
	conns := make([]*evConn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		s.drop(c)
	}
	s.wg.Wait()
	if s.poller != nil {
		s.poller.Close()
	}
}

// tapReader is the reader under a connection's bufio.Reader: it shows
// the bytes read from the socket to tap, while the blocking path follows
// a message.
type tapReader struct {
	nc  net.Conn
	tap io.Writer
}

func (r *tapReader) Read(p []byte) (int, error) {
	n, err := r.nc.Read(p)
	if r.tap != nil && n > 0 {
		r.tap.Write(p[:n])
	}
	return n, err
}

// rawClient is a hand-driven WebSocket client that writes frames byte by
// byte if need be.
type rawClient struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(tb testing.TB, addr string) *rawClient {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	io.WriteString(nc, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		tb.Fatalf("handshake: %v %v", resp, err)
	}
	tb.Cleanup(func() { nc.Close() })
	return &rawClient{Conn: nc, br: br}
}

// readFrame reads one server frame (unmasked).
func (c *rawClient) readFrame(tb testing.TB) (Opcode, []byte) {
	tb.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		tb.Fatalf("reading a frame: %v", err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		io.ReadFull(c.br, l[:])
		n = int(l[0])<<8 | int(l[1])
	case 127:
		var l [8]byte
		io.ReadFull(c.br, l[:])
		n = 0
		for _, b := range l {
			n = n<<8 | int(b)
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		tb.Fatalf("reading a payload: %v", err)
	}
	return Opcode(h[0] & 0x0f), p
}

// echo sends a text message and waits for it to come back.
func (c *rawClient) echo(tb testing.TB, msg string) {
	tb.Helper()
	c.Write(frame(finBit|byte(OpText), []byte(msg)))
	if op, p := c.readFrame(tb); op != OpText || string(p) != msg {
		tb.Fatalf("echo of %q: %v %q", msg, op, p)
	}
}
