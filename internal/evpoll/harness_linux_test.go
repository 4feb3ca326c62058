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
//   - a wake-up reads once, then consumes whole control frames and hands
//     gorilla whole messages until the buffer holds no complete unit, and
//     only then re-arms;
//   - a message too big for the buffer grows the buffer when it is full
//     (twice its size, as far as the message needs), its bytes carried
//     over by the reader under it; control frames inside an unfinished
//     message are answered at once (InteriorControls), and gorilla's
//     handlers skip them when it reads the message;
//   - part of a message left buffered when the connection re-arms must
//     keep coming: a timer drops the connection after stallLimit;
//   - Remove comes before Close;
//   - an idle connection's read buffer goes back to a BufferPool (Detach
//     before Rearm when nothing is buffered, Attach on the next wake-up).
//
// In goroutine mode (events false) it runs the classic read loop, for
// comparison.
type evServer struct {
	tb         testing.TB
	ln         net.Listener
	events     bool
	poller     *Poller
	bufs       *BufferPool
	bufSize    int
	stallLimit time.Duration // how long part of a message may wait for more
	onMessage  func(c *evConn, mt int, data []byte)

	mu     sync.Mutex
	conns  map[uint64]*evConn
	nextID uint64

	accepted   chan *evConn
	acceptDone chan struct{}
	wg         sync.WaitGroup // read loops
	grown      atomic.Int64   // buffer growths so far
}

type evConn struct {
	id    uint64
	nc    *net.TCPConn
	rc    syscall.RawConn
	src   *carryReader // under br
	br    *bufio.Reader
	ws    *websocket.Conn
	pongs atomic.Int64
	// Touched by the connection's wake-up only (one at a time):
	need     int64       // bytes the unfinished message needs, from the boundary
	answered int         // control frames inside it answered ahead of gorilla
	stall    *time.Timer // armed while part of a message waits
	gone     chan struct{}
	once     sync.Once
}

type serverOpts struct {
	events     bool
	pool       PoolConfig
	bufSize    int
	stallLimit time.Duration
	onMessage  func(c *evConn, mt int, data []byte)
}

func startServer(tb testing.TB, o serverOpts) *evServer {
	tb.Helper()
	if o.bufSize == 0 {
		o.bufSize = 4096
	}
	if o.stallLimit == 0 {
		o.stallLimit = 10 * time.Second
	}
	if o.onMessage == nil {
		o.onMessage = func(c *evConn, mt int, data []byte) { c.ws.WriteMessage(mt, data) }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &evServer{
		tb: tb, ln: ln, events: o.events, bufSize: o.bufSize, stallLimit: o.stallLimit,
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
	// Gorilla reset br onto nc; put the carrying reader under it (nothing
	// is buffered right after the upgrade).
	src := &carryReader{nc: nc}
	br.Reset(src)
	s.mu.Lock()
	s.nextID++
	c := &evConn{id: s.nextID, nc: nc, rc: rc, src: src, br: br, ws: ws, gone: make(chan struct{})}
	s.conns[c.id] = c
	s.mu.Unlock()
	ws.SetPongHandler(func(string) error {
		if !c.answeredAhead() {
			c.pongs.Add(1)
		}
		return nil
	})
	ping := ws.PingHandler()
	ws.SetPingHandler(func(data string) error {
		if c.answeredAhead() {
			return nil
		}
		return ping(data)
	})
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

// answeredAhead reports whether a gorilla handler meets a control frame
// the wake-up answered already, and counts it off.
func (c *evConn) answeredAhead() bool {
	if c.answered > 0 {
		c.answered--
		return true
	}
	return false
}

// wake is the Poller's handler.
func (s *evServer) wake(id uint64, ev Events) {
	c := s.lookup(id)
	if c == nil {
		return // queued before its connection was removed
	}
	if c.stall != nil {
		c.stall.Stop() // bytes came; the rearm arms it again if need be
	}
	if c.br.Size() == 0 {
		s.bufs.Attach(c.br, c.src)
	}
	for {
		var eof bool
		full := false
		if c.br.Buffered() < c.br.Size() {
			// One read: the socket is readable, so it does not block.
			if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil {
				eof = true
			}
			full = c.br.Buffered() == c.br.Size()
		}
		if !s.consume(c, eof) || !full {
			return
		}
		if c.br.Buffered() == c.br.Size() {
			s.grow(c) // an unfinished message fills the buffer
		}
	}
}

// consume handles what the buffer holds. It reports true when it waits
// for more bytes that the socket may hold already (the caller reads on),
// false when the connection was re-armed or dropped.
func (s *evServer) consume(c *evConn, eof bool) bool {
	rules := Rules{}
	for c.br.Buffered() > 0 {
		m, err := ScanMessage(c.br, rules)
		var fe *FrameError
		switch {
		case errors.As(err, &fe) && fe.Stricter:
			c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, fe.Reason), time.Now().Add(time.Second))
			s.drop(c)
			return false
		case err != nil, m.Status.Ready():
			// A whole message, or a bad frame gorilla fails on as in a
			// read loop: either way its read cannot block.
			before := c.br.Buffered()
			mt, data, rerr := c.ws.ReadMessage()
			if rerr != nil {
				s.drop(c)
				return false
			}
			if err != nil || before-c.br.Buffered() != m.Wire {
				// Only a compressed message whose deflate stream ends
				// before the message does gets here: gorilla would skip
				// the rest later; fail the connection instead.
				c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, "deflate stream ends early"), time.Now().Add(time.Second))
				s.drop(c)
				return false
			}
			s.onMessage(c, mt, data)
		default: // more bytes are needed
			for range m.Leading {
				h, payload, _, _ := ReadControl(c.br, rules)
				c.control(h, payload)
			}
			if m.Controls-m.Leading > c.answered && !m.Compressed {
				// A read loop answers the control frames between the
				// fragments now (a pong a heartbeat waits for).
				c.answered = InteriorControls(c.br, rules, c.answered, func(h Header, payload []byte) bool {
					c.control(h, payload)
					return true
				})
			}
			c.need = m.Need
			if eof {
				s.drainAtEOF(c)
				return false
			}
			if c.br.Buffered() == c.br.Size() {
				return true // full: the caller grows it
			}
			s.rearm(c)
			return false
		}
	}
	if eof {
		s.drop(c)
		return false
	}
	s.rearm(c)
	return false
}

// control calls gorilla's handler for a control frame consumed outside
// gorilla (not for one it will meet itself).
func (c *evConn) control(h Header, payload []byte) {
	switch h.Opcode {
	case OpPing:
		c.ws.WriteControl(websocket.PongMessage, payload, time.Now().Add(time.Second))
	case OpPong:
		c.pongs.Add(1)
	}
}

// grow gives c's reader a buffer twice as large (as far as the message
// needs), its bytes carried over by the reader under it.
func (s *evServer) grow(c *evConn) {
	s.grown.Add(1)
	n := c.br.Buffered()
	size := 2 * c.br.Size()
	if c.need > int64(c.br.Size()) && c.need < int64(size) {
		size = int(c.need)
	}
	nb := bufio.NewReaderSize(c.src, size)
	c.src.carry, _ = c.br.Peek(n)
	nb.Peek(n)
	*c.br = *nb
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

// rearm ends a wake-up: the buffer goes back to the pool when nothing is
// buffered (a grown one to the garbage collector); part of a message left
// must come within stallLimit.
func (s *evServer) rearm(c *evConn) {
	switch {
	case c.br.Buffered() > 0:
		if c.stall == nil {
			c.stall = time.AfterFunc(s.stallLimit, func() { s.drop(c) })
		} else {
			c.stall.Reset(s.stallLimit)
		}
	case c.br.Size() == s.bufSize:
		s.bufs.Detach(c.br)
	default:
		*c.br = bufio.Reader{}
	}
	if err := s.poller.Rearm(c.rc, c.id); err != nil {
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

// carryReader is the reader under a connection's bufio.Reader: the
// socket, after the bytes being carried into a grown buffer.
type carryReader struct {
	nc    net.Conn
	carry []byte
}

func (r *carryReader) Read(p []byte) (int, error) {
	if len(r.carry) > 0 {
		n := copy(p, r.carry)
		r.carry = r.carry[n:]
		return n, nil
	}
	return r.nc.Read(p)
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
