package evpoll

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

const (
	finBit  = 0x80
	rsv1Bit = 0x40
	rsv2Bit = 0x20
)

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// frame builds a client frame: b0 is FIN, RSV and opcode; the payload is
// masked with testKey unless unmasked.
func frame(b0 byte, payload []byte, unmasked ...bool) []byte {
	masked := len(unmasked) == 0 || !unmasked[0]
	var b []byte
	b = append(b, b0)
	var mb byte
	if masked {
		mb = 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, mb|byte(n))
	case n <= 0xffff:
		b = append(b, mb|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mb|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if masked {
		b = append(b, testKey[:]...)
		for i, c := range payload {
			b = append(b, c^testKey[i&3])
		}
		return b
	}
	return append(b, payload...)
}

// header builds just a masked frame header declaring length bytes.
func header(b0 byte, length uint64) []byte {
	b := []byte{b0, 0x80 | 127}
	b = binary.BigEndian.AppendUint64(b, length)
	return append(b, testKey[:]...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// noReads is a source that hands over its bytes in one read and fails the
// test if it is read again: the helpers must never read.
type noReads struct {
	t    *testing.T
	data []byte
	done bool
}

func (r *noReads) Read(p []byte) (int, error) {
	if r.done {
		r.t.Error("a frame helper read from the connection")
		return 0, errors.New("read after setup")
	}
	r.done = true
	return copy(p, r.data), nil
}

// buffered returns a reader of the given size holding data (which must
// fit) in its buffer.
func bufferedReader(t *testing.T, data []byte, size int) *bufio.Reader {
	t.Helper()
	br := bufio.NewReaderSize(&noReads{t: t, data: data}, size)
	if len(data) > 0 {
		if _, err := br.Peek(len(data)); err != nil {
			t.Fatal(err)
		}
	}
	return br
}

func TestPeekHeaderLengths(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		f := frame(finBit|byte(OpBinary), bytes.Repeat([]byte{'x'}, n))
		wantSize := 6
		if n > 125 {
			wantSize = 8
		}
		if n > 0xffff {
			wantSize = 14
		}
		for cut := range wantSize {
			_, ok, err := PeekHeader(bufferedReader(t, f[:cut], 4096), Rules{})
			if ok || err != nil {
				t.Fatalf("len %d, %d header bytes: ok=%v err=%v, want not ok", n, cut, ok, err)
			}
		}
		h, ok, err := PeekHeader(bufferedReader(t, f[:wantSize], 4096), Rules{})
		if !ok || err != nil {
			t.Fatalf("len %d: ok=%v err=%v", n, ok, err)
		}
		if h.Opcode != OpBinary || !h.Fin || h.RSV1 || h.Length != int64(n) || h.Size != wantSize || h.MaskKey != testKey {
			t.Fatalf("len %d: %+v", n, h)
		}
		if h.WireLen() != int64(len(f)) {
			t.Fatalf("len %d: WireLen %d, frame is %d bytes", n, h.WireLen(), len(f))
		}
	}
}

func TestPeekHeaderRejects(t *testing.T) {
	tests := []struct {
		name     string
		data     []byte
		rules    Rules
		reason   string
		stricter bool
	}{
		{"unmasked", frame(finBit|byte(OpText), []byte("hi"), true), Rules{}, "bad MASK", false},
		{"rsv1 without deflate", frame(finBit|rsv1Bit|byte(OpText), nil), Rules{}, "RSV1 set", false},
		{"rsv2", frame(finBit|rsv2Bit|byte(OpText), nil), Rules{Deflate: true}, "RSV2 set", false},
		{"fragmented ping", frame(byte(OpPing), nil), Rules{}, "FIN not set on control", false},
		{"long ping", frame(finBit|byte(OpPing), make([]byte, 126)), Rules{}, "len > 125 for control", false},
		{"reserved opcode", frame(finBit|0x3, nil), Rules{}, "bad opcode 3", false},
		{"reserved control opcode", frame(finBit|0xB, nil), Rules{}, "bad opcode 11", false},
		{"continuation first", frame(finBit|byte(OpContinuation), nil), Rules{}, "continuation after FIN", false},
		{"all at once", frame(rsv1Bit|rsv2Bit|0x3, nil, true), Rules{}, "RSV1 set, RSV2 set, bad opcode 3, bad MASK", false},
		{"top length bit", header(finBit|byte(OpBinary), 1<<63), Rules{}, reasonLength, false},
		{"rsv1 on ping", frame(finBit|rsv1Bit|byte(OpPing), nil), Rules{Deflate: true}, "RSV1 set on a control frame", true},
		{"rsv1 on ping and unmasked", frame(finBit|rsv1Bit|byte(OpPing), nil, true), Rules{Deflate: true}, "bad MASK", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := PeekHeader(bufferedReader(t, tt.data, 4096), tt.rules)
			var fe *FrameError
			if ok || !errors.As(err, &fe) {
				t.Fatalf("ok=%v err=%v, want a FrameError", ok, err)
			}
			if fe.Reason != tt.reason || fe.Stricter != tt.stricter {
				t.Fatalf("got %+v, want reason %q stricter %v", fe, tt.reason, tt.stricter)
			}
			if fe.Error() != "websocket: "+tt.reason {
				t.Fatalf("Error() = %q", fe.Error())
			}
		})
	}
	// A fault in the first two bytes shows before the rest is buffered;
	// the length's top bit only once its 8 bytes are.
	if _, _, err := PeekHeader(bufferedReader(t, []byte{finBit | 0x3, 0xff}, 4096), Rules{}); err == nil {
		t.Fatal("bad opcode not reported from two bytes")
	}
	if _, ok, err := PeekHeader(bufferedReader(t, header(finBit|byte(OpBinary), 1<<63)[:9], 4096), Rules{}); ok || err != nil {
		t.Fatalf("9 bytes of a 64-bit length: ok=%v err=%v, want incomplete", ok, err)
	}
	// With deflate, RSV1 is fine on a message's first frame.
	h, ok, err := PeekHeader(bufferedReader(t, frame(finBit|rsv1Bit|byte(OpText), []byte("z")), 4096), Rules{Deflate: true})
	if !ok || err != nil || !h.RSV1 {
		t.Fatalf("compressed text frame: %+v ok=%v err=%v", h, ok, err)
	}
}

func TestReadControl(t *testing.T) {
	ping := frame(finBit|byte(OpPing), []byte("are you there"))
	rest := frame(finBit|byte(OpText), []byte("next"))
	br := bufferedReader(t, cat(ping, rest), 4096)
	h, payload, ok, err := ReadControl(br, Rules{})
	if !ok || err != nil || h.Opcode != OpPing || string(payload) != "are you there" {
		t.Fatalf("ReadControl = %+v %q %v %v", h, payload, ok, err)
	}
	if br.Buffered() != len(rest) {
		t.Fatalf("%d bytes left, want %d", br.Buffered(), len(rest))
	}
	if _, _, ok, err := ReadControl(br, Rules{}); ok || !errors.Is(err, ErrNotControl) {
		t.Fatalf("on a data frame: ok=%v err=%v, want ErrNotControl", ok, err)
	}
	if br.Buffered() != len(rest) {
		t.Fatal("ReadControl consumed a data frame")
	}
	for cut := range len(ping) {
		br := bufferedReader(t, ping[:cut], 4096)
		if _, _, ok, err := ReadControl(br, Rules{}); ok || err != nil || br.Buffered() != cut {
			t.Fatalf("%d of %d bytes: ok=%v err=%v buffered %d", cut, len(ping), ok, err, br.Buffered())
		}
	}
	// An empty pong.
	br = bufferedReader(t, frame(finBit|byte(OpPong), nil), 4096)
	if h, payload, ok, err := ReadControl(br, Rules{}); !ok || err != nil || h.Opcode != OpPong || len(payload) != 0 || br.Buffered() != 0 {
		t.Fatalf("empty pong: %+v %q %v %v", h, payload, ok, err)
	}
}

func TestParseClose(t *testing.T) {
	withCode := func(code uint16, reason string) []byte {
		return append(binary.BigEndian.AppendUint16(nil, code), reason...)
	}
	tests := []struct {
		payload []byte
		code    int
		reason  string
		err     string
	}{
		{nil, 1005, "", ""},
		{[]byte{0x03}, 1005, "", ""}, // gorilla ignores a lone byte
		{withCode(1000, "bye"), 1000, "bye", ""},
		{withCode(1013, ""), 1013, "", ""},
		{withCode(4999, "app"), 4999, "app", ""},
		{withCode(1004, ""), 0, "", "websocket: bad close code 1004"},
		{withCode(1005, ""), 0, "", "websocket: bad close code 1005"},
		{withCode(1006, ""), 0, "", "websocket: bad close code 1006"},
		{withCode(1014, ""), 0, "", "websocket: bad close code 1014"},
		{withCode(1015, ""), 0, "", "websocket: bad close code 1015"},
		{withCode(2999, ""), 0, "", "websocket: bad close code 2999"},
		{withCode(5000, ""), 0, "", "websocket: bad close code 5000"},
		{withCode(1000, "\xff"), 0, "", "websocket: invalid utf8 payload in close frame"},
	}
	for _, tt := range tests {
		code, reason, err := ParseClose(tt.payload)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseClose(%x): err %v, want %q", tt.payload, err, tt.err)
			}
			continue
		}
		if err != nil || code != tt.code || reason != tt.reason {
			t.Errorf("ParseClose(%x) = %d %q %v, want %d %q", tt.payload, code, reason, err, tt.code, tt.reason)
		}
	}
}

func TestScanMessage(t *testing.T) {
	text := func(fin bool, s string) []byte {
		b0 := byte(OpText)
		if fin {
			b0 |= finBit
		}
		return frame(b0, []byte(s))
	}
	cont := func(fin bool, s string) []byte {
		b0 := byte(OpContinuation)
		if fin {
			b0 |= finBit
		}
		return frame(b0, []byte(s))
	}
	ping := frame(finBit|byte(OpPing), []byte("p"))
	pong := frame(finBit|byte(OpPong), nil)
	closeF := frame(finBit|byte(OpClose), []byte{0x03, 0xe8})
	fragmented := cat(text(false, "hel"), ping, cont(false, "lo "), cont(true, "world"))

	tests := []struct {
		name  string
		data  []byte
		size  int
		rules Rules
		want  MessageScan
		err   string
	}{
		{"one frame", text(true, "hello"), 4096, Rules{},
			MessageScan{Status: Complete, Opcode: OpText, Frames: 1, Length: 5, Wire: 11}, ""},
		{"fragments with a ping between", cat(fragmented, pong), 4096, Rules{},
			MessageScan{Status: Complete, Opcode: OpText, Frames: 3, Controls: 1, Length: 11, Wire: len(fragmented)}, ""},
		{"pongs before a partial message", cat(pong, pong, text(true, "abc")[:8]), 4096, Rules{},
			MessageScan{Status: Incomplete, Opcode: OpText, Frames: 1, Length: 3, Leading: 2, Controls: 2, Need: 2*6 + 9}, ""},
		{"lone pong", pong, 4096, Rules{},
			MessageScan{Status: Incomplete, Leading: 1, Controls: 1, Need: 6 + 2}, ""},
		{"close at the boundary", cat(closeF, text(true, "x")), 4096, Rules{},
			MessageScan{Status: Interrupted, Leading: 1, Controls: 1, Wire: len(closeF)}, ""},
		{"close inside a message", cat(text(false, "ab"), ping, closeF, cont(true, "c")), 4096, Rules{},
			MessageScan{Status: Interrupted, Opcode: OpText, Frames: 1, Length: 2, Controls: 2, Wire: 8 + 7 + len(closeF)}, ""},
		{"a ping inside a message that has not all arrived", cat(text(false, "ab"), ping, cont(true, "cd")[:7]), 4096, Rules{},
			MessageScan{Status: Stalled, Opcode: OpText, Frames: 2, Length: 4, Controls: 1, Need: 8 + 7 + 8}, ""},
		{"over the read limit at the second fragment", cat(text(false, "abcd"), cont(true, "efgh")[:6]), 4096, Rules{ReadLimit: 6},
			MessageScan{Status: OverLimit, Opcode: OpText, Frames: 2, Length: 8, Wire: 10 + 6}, ""},
		{"one frame bigger than the buffer", header(finBit|byte(OpBinary), 5000), 4096, Rules{},
			MessageScan{Status: TooBig, Opcode: OpBinary, Frames: 1, Length: 5000, Need: 5014}, ""},
		{"fragments adding up past the buffer", cat(text(false, strings.Repeat("a", 200)), cont(false, strings.Repeat("b", 200))[:8]), 300, Rules{},
			MessageScan{Status: TooBig, Opcode: OpText, Frames: 2, Length: 400, Need: 2 * 208}, ""},
		{"a new message inside a message", cat(text(false, "a"), text(true, "b")), 4096, Rules{},
			MessageScan{}, "websocket: data before FIN"},
		{"compressed", frame(finBit|rsv1Bit|byte(OpBinary), []byte{1, 2}), 4096, Rules{Deflate: true},
			MessageScan{Status: Complete, Opcode: OpBinary, Compressed: true, Frames: 1, Length: 2, Wire: 8}, ""},
		{"compressed continuation", cat(frame(rsv1Bit|byte(OpBinary), []byte{1}), frame(finBit|rsv1Bit, []byte{2})), 4096, Rules{Deflate: true},
			MessageScan{}, "websocket: RSV1 set on a continuation frame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufferedReader(t, tt.data, tt.size)
			before := br.Buffered()
			m, err := ScanMessage(br, tt.rules)
			if br.Buffered() != before {
				t.Fatal("ScanMessage consumed bytes")
			}
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m != tt.want {
				t.Fatalf("got  %+v\nwant %+v", m, tt.want)
			}
			if m.Status.Ready() != (m.Status == Complete || m.Status == Interrupted || m.Status == OverLimit) {
				t.Fatal("Ready disagrees with the status")
			}
		})
	}
	// Nothing buffered, even in a detached (zero) reader: incomplete.
	if m, err := ScanMessage(new(bufio.Reader), Rules{}); err != nil || m.Status != Incomplete {
		t.Fatalf("empty reader: %+v %v", m, err)
	}
	// Every strict prefix of a fragmented message is incomplete (stalled
	// once the ping inside is whole), never ready, and never an error.
	pingEnd := 9 + len(ping)
	for cut := range len(fragmented) {
		m, err := ScanMessage(bufferedReader(t, fragmented[:cut], 4096), Rules{})
		want := Incomplete
		if cut >= pingEnd {
			want = Stalled
		}
		if err != nil || m.Status != want || m.Need <= int64(cut) {
			t.Fatalf("%d of %d bytes: %+v %v", cut, len(fragmented), m, err)
		}
	}
}

func TestBufferPool(t *testing.T) {
	pool := NewBufferPool(1024)
	var br bufio.Reader
	pool.Attach(&br, strings.NewReader("hello world"))
	if br.Size() != 1024 {
		t.Fatalf("attached size %d", br.Size())
	}
	if p, err := br.Peek(5); err != nil || string(p) != "hello" {
		t.Fatalf("Peek = %q %v", p, err)
	}
	if pool.Detach(&br) {
		t.Fatal("detached a reader holding bytes")
	}
	br.Discard(br.Buffered())
	if !pool.Detach(&br) || br.Size() != 0 {
		t.Fatal("did not detach an empty reader")
	}
	if pool.Detach(&br) {
		t.Fatal("detached twice")
	}
	pool.Attach(&br, strings.NewReader("again"))
	if s, _ := br.ReadString(0); s != "again" {
		t.Fatalf("after re-attach read %q", s)
	}
	if raceEnabled {
		return // the race detector makes sync.Pool drop items on purpose
	}
	allocs := testing.AllocsPerRun(100, func() {
		pool.Attach(&br, nil)
		pool.Detach(&br)
	})
	if allocs > 0 {
		t.Fatalf("%v allocations per attach and detach", allocs)
	}
}
