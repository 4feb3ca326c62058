package evpoll

import (
	"bufio"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
)

// The fuzz targets feed the same bytes to two readers and compare what
// they report, event by event (control frames handled, messages, how the
// read ended):
//
//   - the reference: a server-side gorilla Conn over a net.Pipe, reading
//     the bytes with its own reader in a plain ReadMessage loop;
//   - the driver: what the core will do in event mode. The bytes arrive
//     in chunks into a bufio.Reader we own and gorilla reads through; at
//     each frame boundary ScanMessage (and, in one mode, ReadControl)
//     decide: consume whole control frames outside gorilla, hand gorilla
//     only a message ScanMessage calls ready, or wait for the next chunk,
//     answering the control frames inside an unfinished message at once
//     (gorilla's handlers skip them later) and growing a buffer that an
//     unfinished message fills.
//
// Any read by gorilla past the bytes that have arrived fails the test (it
// would block a worker), as does gorilla consuming other than exactly the
// bytes ScanMessage said the message takes.

type fuzzCfg struct {
	deflate     bool  // permessage-deflate negotiated
	ownControls bool  // the driver consumes every control frame at a boundary itself, Close included
	bufSize     int   // the owned reader's size
	limit       int64 // gorilla's read limit
}

func cfgFrom(mode byte) fuzzCfg {
	return fuzzCfg{
		deflate:     mode&1 != 0,
		ownControls: mode&2 != 0,
		bufSize:     []int{300, 512, 1024, 4096}[mode>>2&3],
		limit:       []int64{0, 16, 200, 5000}[mode>>4&3],
	}
}

// chunks splits n bytes into arrivals; split 0 means all at once.
func chunks(n int, split uint16) []int {
	if split == 0 {
		return []int{n}
	}
	span := uint32(split%97) + 1
	x := uint32(split)*2654435761 | 1
	var out []int
	for n > 0 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		c := min(int(x%span)+1, n)
		out = append(out, c)
		n -= c
	}
	return out
}

// reference reads wire with gorilla alone.
func reference(t *testing.T, wire []byte, cfg fuzzCfg) []string {
	a, b := net.Pipe()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); io.Copy(io.Discard, a) }() // what gorilla writes
	go func() {
		defer wg.Done()
		a.Write(wire)
		a.Close()
	}()
	defer func() {
		b.Close()
		wg.Wait()
	}()
	ws, err := serverConn(b, nil, cfg.deflate)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	logHandlers(ws, &log)
	ws.SetReadLimit(cfg.limit)
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			return append(log, classify(err))
		}
		log = append(log, fmt.Sprintf("msg %d %x", mt, data))
	}
}

type driver struct {
	t        *testing.T
	fc       *feedConn
	br       *bufio.Reader
	ws       *websocket.Conn
	rules    Rules
	own      bool
	log      []string
	done     bool
	stricter bool // stopped at a frame gorilla would accept
	// pendingCompressed: the buffer ends inside a compressed message
	pendingCompressed bool

	ping, pong func(string) error // the logging handlers
	answered   int                // control frames inside the unfinished message answered ahead of gorilla, still to skip
	ahead      bool               // some were, for the message in progress
	aheadAt    int                // where their log entries start
}

// drive reads wire the event-mode way; stricter reports that it stopped
// at a frame evpoll rejects and gorilla accepts.
func drive(t *testing.T, wire []byte, cfg fuzzCfg, split uint16) (log []string, stricter bool) {
	d := &driver{
		t:     t,
		fc:    &feedConn{data: wire},
		br:    bufio.NewReaderSize(nil, cfg.bufSize),
		rules: Rules{Deflate: cfg.deflate, ReadLimit: cfg.limit},
		own:   cfg.ownControls,
	}
	ws, err := serverConn(d.fc, d.br, cfg.deflate)
	if err != nil {
		t.Fatal(err)
	}
	d.ws = ws
	logHandlers(ws, &d.log)
	d.ping, d.pong = ws.PingHandler(), ws.PongHandler()
	ws.SetPingHandler(func(s string) error {
		if d.answered > 0 {
			d.answered--
			return nil
		}
		return d.ping(s)
	})
	ws.SetPongHandler(func(s string) error {
		if d.answered > 0 {
			d.answered--
			return nil
		}
		return d.pong(s)
	})
	ws.SetReadLimit(cfg.limit)
	arrivals := chunks(len(wire), split)
	for i := 0; !d.done; {
		if d.fc.off == d.fc.avail { // the socket is drained: wait for bytes
			if i == len(arrivals) {
				break
			}
			d.fc.arrive(arrivals[i])
			i++
		}
		d.wake()
	}
	if !d.done {
		// The peer is gone (end of stream). The core hands what is left
		// to gorilla: reads at the end of the stream never block, and
		// gorilla fails as it would in a read loop (unexpected EOF, or a
		// corrupt deflate stream it can tell from a partial message). A
		// whole message there would be one ScanMessage missed.
		// Only a compressed message can come out of bytes ScanMessage
		// called incomplete: gorilla stops reading a message when its
		// deflate stream ends, even inside a frame.
		d.fc.final = true
		for !d.done {
			if _, _, err := d.readOne(); err == nil && !d.pendingCompressed {
				t.Fatalf("at the end of the stream gorilla read a message ScanMessage had not called ready: %v", d.log)
			}
		}
	}
	return d.log, d.stricter
}

// wake is one wake-up: one read from the socket, then everything the
// buffer allows.
func (d *driver) wake() {
	if d.br.Buffered() < d.br.Size() {
		d.br.Peek(d.br.Buffered() + 1) // one read of what has arrived
	}
	for !d.done && d.br.Buffered() > 0 {
		d.pendingCompressed = false
		if d.own {
			h, payload, ok, err := ReadControl(d.br, d.rules)
			switch {
			case errors.Is(err, ErrNotControl):
			case err != nil:
				d.frameError(err, false)
				return
			case !ok:
				return
			default:
				d.control(h.Opcode, payload)
				continue
			}
		}
		m, err := ScanMessage(d.br, d.rules)
		if err != nil {
			d.frameError(err, m.Compressed)
			return
		}
		switch {
		case m.Status.Ready():
			d.readReady(m)
		default: // more bytes are needed
			// Consume whole control frames ahead, answer those inside
			// the message (a read loop would answer them now), grow a
			// buffer the message fills, and wait.
			d.pendingCompressed = m.Compressed
			for range m.Leading {
				h, payload, ok, err := ReadControl(d.br, d.rules)
				if !ok || err != nil || h.Opcode == OpClose {
					d.t.Fatalf("leading control frame: %+v ok=%v err=%v", h, ok, err)
				}
				d.control(h.Opcode, payload)
			}
			if m.Controls-m.Leading > d.answered && !m.Compressed {
				if !d.ahead {
					d.ahead, d.aheadAt = true, len(d.log)
				}
				d.answered = InteriorControls(d.br, d.rules, d.answered, func(h Header, payload []byte) bool {
					d.control(h.Opcode, payload)
					return true
				})
			}
			if d.br.Buffered() == d.br.Size() {
				d.grow(m.Need)
			}
			return
		}
	}
}

func (d *driver) readOne() (mt int, data []byte, err error) {
	mt, data, err = d.ws.ReadMessage()
	if err != nil {
		if errors.Is(err, errWouldBlock) {
			d.t.Fatalf("gorilla read past the bytes that had arrived (it would block a worker): %v", err)
		}
		d.log = append(d.log, classify(err))
		d.done = true
		return
	}
	d.log = append(d.log, fmt.Sprintf("msg %d %x", mt, data))
	return
}

// grow gives the reader a buffer twice as large (as far as the message
// needs), its bytes carried over by the source.
func (d *driver) grow(need int64) {
	n := d.br.Buffered()
	size := 2 * d.br.Size()
	if need > int64(d.br.Size()) && need < int64(size) {
		size = int(need)
	}
	nb := bufio.NewReaderSize(d.fc, size)
	d.fc.carry, _ = d.br.Peek(n)
	nb.Peek(n)
	*d.br = *nb
}

// stopStricter ends the drive at a message the core fails (Close 1002)
// where gorilla would read on. The control frames inside that message
// answered ahead are taken out of the log: gorilla, which returns such a
// message early, would answer them after it.
func (d *driver) stopStricter() {
	if d.ahead {
		d.log = d.log[:d.aheadAt]
	}
	d.log = append(d.log, "err:stricter")
	d.done, d.stricter = true, true
}

func (d *driver) readReady(m MessageScan) {
	before := d.br.Buffered()
	mt, data, err := d.readOne()
	consumed := before - d.br.Buffered()
	switch {
	case m.Compressed && err == nil && consumed < m.Wire:
		// The deflate stream ended before the message did: gorilla
		// would skip the rest on its next read. The core fails the
		// connection instead (Close 1002), so stop here.
		d.log = d.log[:len(d.log)-1]
		d.stopStricter()
		return
	case m.Compressed && err != nil && consumed <= m.Wire:
		return // a bad deflate stream; the connection is over
	case consumed != m.Wire:
		d.t.Fatalf("%v scan said gorilla would consume %d bytes, it consumed %d (err %v)", m.Status, m.Wire, consumed, err)
	}
	d.answered, d.ahead = 0, false // gorilla's handlers skipped them
	switch m.Status {
	case Complete:
		if err != nil {
			d.t.Fatalf("complete message, gorilla failed: %v", err)
		}
		if !m.Compressed && (mt != int(m.Opcode) || int64(len(data)) != m.Length) {
			d.t.Fatalf("scan said %v of %d bytes, gorilla read type %d of %d", m.Opcode, m.Length, mt, len(data))
		}
	case OverLimit:
		if !errors.Is(err, websocket.ErrReadLimit) {
			d.t.Fatalf("over the read limit, gorilla said %v", err)
		}
	case Interrupted:
		if err == nil {
			d.t.Fatal("interrupted by a Close frame, gorilla read a message")
		}
	}
}

// control handles a control frame consumed outside gorilla, calling the
// handlers installed on gorilla as the core will.
func (d *driver) control(op Opcode, payload []byte) {
	switch op {
	case OpPing:
		d.ping(string(payload))
	case OpPong:
		d.pong(string(payload))
	case OpClose:
		code, text, err := ParseClose(payload)
		if err != nil {
			d.log = append(d.log, "err:"+err.Error()) // gorilla's Close 1002 and error
		} else {
			d.ws.CloseHandler()(code, text)
			d.log = append(d.log, "err:close")
		}
		d.done = true
	default:
		d.t.Fatalf("control frame with opcode %v", op)
	}
}

// frameError handles a FrameError the way the core will: fail the
// connection itself for a Stricter one, else hand the read to gorilla,
// which must fail the same way without blocking, or, inside a compressed
// message, may fail earlier on its deflate stream.
func (d *driver) frameError(err error, compressed bool) {
	var fe *FrameError
	if !errors.As(err, &fe) {
		d.t.Fatalf("not a FrameError: %v", err)
	}
	if fe.Stricter {
		d.log = append(d.log, "err:stricter")
		d.done, d.stricter = true, true
		return
	}
	_, _, gerr := d.readOne()
	switch {
	case gerr == nil && compressed:
		// The deflate stream ended before the message did, and gorilla
		// returned the message early. The core fails the connection
		// (Close 1002), as when this shows in readReady.
		d.log = d.log[:len(d.log)-1]
		d.stopStricter()
	case gerr == nil:
		d.t.Fatalf("evpoll rejected a frame (%v), gorilla read a message", fe)
	case compressed && errors.As(gerr, new(flate.CorruptInputError)):
	case fe.Reason == reasonLength:
		if !errors.Is(gerr, websocket.ErrReadLimit) {
			d.t.Fatalf("evpoll: %v; gorilla: %v, want ErrReadLimit", fe, gerr)
		}
	case gerr.Error() != fe.Error():
		d.t.Fatalf("evpoll: %v; gorilla: %v", fe, gerr)
	}
}

func checkAgainstGorilla(t *testing.T, wire []byte, mode byte, split uint16) {
	cfg := cfgFrom(mode)
	want := reference(t, wire, cfg)
	got, stricter := drive(t, wire, cfg, split)
	if stricter {
		got = got[:len(got)-1]
		if len(want) < len(got) || !slices.Equal(want[:len(got)], got) {
			t.Fatalf("cfg %+v split %d: before evpoll's stricter stop\n evpoll: %v\ngorilla: %v", cfg, split, got, want)
		}
		return
	}
	if !slices.Equal(got, want) {
		t.Fatalf("cfg %+v split %d\n evpoll: %v\ngorilla: %v", cfg, split, got, want)
	}
}

// clientWire runs prog on a client-side gorilla Conn and returns the bytes
// it wrote after the handshake. Each op takes a byte and its arguments
// from prog.
func clientWire(t *testing.T, prog []byte, deflate bool) []byte {
	take := func() byte {
		if len(prog) == 0 {
			return 0
		}
		b := prog[0]
		prog = prog[1:]
		return b
	}
	ws, out, err := clientConn([]int{64, 256, 1024, 4096}[take()&3], deflate)
	if err != nil {
		t.Fatal(err)
	}
	counter := 0
	payload := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = 'a' + byte(counter%26)
			counter++
		}
		return p
	}
	size := func() int {
		b := take()
		switch b >> 6 {
		case 0:
			return int(b & 63)
		case 1:
			return 60 + int(b&63)
		case 2:
			return 100 + 10*int(b&63)
		}
		return 50 * int(b&63)
	}
	codes := []int{1000, 1001, websocket.CloseNoStatusReceived, 1006, 1014, 3000, 4999, 5000}
	for len(prog) > 0 {
		switch op := take(); op % 8 {
		case 0, 1:
			ws.WriteMessage(int(op%8)+websocket.TextMessage, payload(size()))
		case 2: // fragments, with pings between
			w, err := ws.NextWriter(websocket.BinaryMessage)
			if err != nil {
				continue
			}
			for range 1 + take()%4 {
				w.Write(payload(size()))
				if take()&1 == 1 {
					ws.WriteControl(websocket.PingMessage, payload(size()%126), noDeadline)
				}
			}
			w.Close()
		case 3:
			ws.WriteControl(websocket.PingMessage, payload(size()%126), noDeadline)
		case 4:
			ws.WriteControl(websocket.PongMessage, payload(size()%126), noDeadline)
		case 5:
			ws.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(codes[take()%8], string(payload(size()%100))), noDeadline)
		case 6:
			ws.EnableWriteCompression(take()&1 == 1)
		case 7: // raw bytes between frames: anything goes
			n := int(take() % 16)
			for range n {
				out.WriteByte(take())
			}
		}
	}
	return out.Bytes()
}

// seedPrograms are client programs that cover the frame shapes.
var seedPrograms = [][]byte{
	{1, 0, 5, 1, 130},                    // a text message, a binary one
	{0, 2, 3, 200, 1, 5, 0, 190},         // fragments with a ping between (64-byte writer)
	{1, 3, 7, 4, 0, 0, 20},               // ping, pong, text
	{2, 0, 255, 0, 3},                    // a big text message
	{1, 5, 0, 9, 0, 4},                   // close 1000 then a (refused) write
	{1, 5, 3, 0},                         // close 1006: a bad code
	{1, 7, 3, 0x81, 0x05, 0x41, 0, 10},   // an unmasked frame after a message
	{0, 2, 3, 100, 1, 3, 1, 100, 1, 100}, // many fragments and pings
	{3, 6, 1, 0, 100, 6, 0, 0, 100},      // compressed then plain (with deflate)
}

// seedWires are raw byte streams: frames gorilla's client does not write.
func seedWires() [][]byte {
	return [][]byte{
		frame(finBit|byte(OpText), []byte("hello")),
		cat(frame(finBit|byte(OpPong), nil), frame(finBit|byte(OpText), []byte("after a pong"))),
		cat(frame(byte(OpText), []byte("frag")), frame(finBit|byte(OpPing), []byte("p")), frame(finBit, []byte("ment"))),
		cat(frame(byte(OpText), []byte("a")), frame(finBit|byte(OpClose), []byte{3, 232, 'b'})),
		frame(finBit|rsv1Bit|byte(OpPing), nil),
		frame(finBit|byte(OpText), []byte("plain"), true),
		header(finBit|byte(OpBinary), 1<<63),
		header(finBit|byte(OpBinary), 1<<20),
		cat(frame(byte(OpBinary), []byte("ab")), frame(rsv1Bit, []byte("cd"))),
		frame(finBit|byte(OpClose), []byte{3}),
		frame(finBit|0x3, nil),
		cat(frame(finBit|byte(OpBinary), make([]byte, 300)), frame(finBit|byte(OpPing), nil)),
		cat(frame(finBit|byte(OpText), make([]byte, 16)), frame(finBit|byte(OpText), make([]byte, 17))),                             // the read limit 16
		cat(frame(byte(OpText), make([]byte, 150)), frame(finBit, make([]byte, 50)), frame(finBit|byte(OpText), make([]byte, 201))), // 200
	}
}

func FuzzFrames(f *testing.F) {
	for i, w := range seedWires() {
		f.Add(w, byte(i*37), uint16(i*11))
	}
	for i, p := range seedPrograms {
		w := clientWire(&testing.T{}, p, true)
		f.Add(w, byte(1|i<<2), uint16(0))
		f.Add(w, byte(3|i<<3), uint16(i+1))
	}
	f.Fuzz(func(t *testing.T, wire []byte, mode byte, split uint16) {
		if len(wire) > 1<<16 {
			return
		}
		checkAgainstGorilla(t, wire, mode, split)
	})
}

func FuzzClientFrames(f *testing.F) {
	for i, p := range seedPrograms {
		f.Add(p, byte(i*13), uint16(i*7))
	}
	f.Fuzz(func(t *testing.T, prog []byte, mode byte, split uint16) {
		if len(prog) > 512 {
			return
		}
		checkAgainstGorilla(t, clientWire(t, prog, mode&1 != 0), mode, split)
	})
}

// TestFramesAgreeWithGorilla runs every seed in every mode and many
// splits, so that a plain go test covers what the fuzz seeds do and more.
func TestFramesAgreeWithGorilla(t *testing.T) {
	var wires [][]byte
	wires = append(wires, seedWires()...)
	for _, p := range seedPrograms {
		wires = append(wires, clientWire(t, p, false), clientWire(t, p, true))
	}
	for wi, w := range wires {
		for mode := range 64 {
			for _, split := range []uint16{0, 1, 2, 5, 96, 1234} {
				t.Run(fmt.Sprintf("wire%d/mode%d/split%d", wi, mode, split), func(t *testing.T) {
					checkAgainstGorilla(t, w, byte(mode), split)
				})
			}
		}
	}
}

// TestWriteSeedCorpus writes the committed seed corpus under testdata when
// EVPOLL_WRITE_CORPUS=1.
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("EVPOLL_WRITE_CORPUS") != "1" {
		t.Skip("set EVPOLL_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	write := func(target, name string, data []byte, mode byte, split uint16) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "go test fuzz v1\n[]byte(%q)\nbyte(%q)\nuint16(%d)\n", data, mode, split)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, w := range seedWires() {
		write("FuzzFrames", fmt.Sprintf("seed-wire-%02d", i), w, byte(i*29+3), uint16(i*13+1))
	}
	for i, p := range seedPrograms {
		write("FuzzClientFrames", fmt.Sprintf("seed-prog-%02d", i), p, byte(i*41+1), uint16(i*5+2))
	}
}
