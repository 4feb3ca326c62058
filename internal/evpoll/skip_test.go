package evpoll

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// trickle is a source that holds the bytes given to it so far and reads
// what it holds, errNothing when empty (a socket with nothing to read).
type trickle struct{ held []byte }

var errNothing = errors.New("nothing now")

func (s *trickle) Read(p []byte) (int, error) {
	if len(s.held) == 0 {
		return 0, errNothing
	}
	n := copy(p, s.held)
	s.held = s.held[n:]
	return n, nil
}

// skipAll feeds stream to a Skipper step bytes at a time through a reader
// of size bytes and returns the control frames it found, as "op:payload".
func skipAll(t *testing.T, s *Skipper, stream []byte, step, size int) []string {
	t.Helper()
	src := new(trickle)
	br := bufio.NewReaderSize(src, size)
	var got []string
	for i := 0; i < len(stream); i += step {
		src.held = append(src.held, stream[i:min(i+step, len(stream))]...)
		for progress := true; progress; {
			for len(src.held) > 0 && br.Buffered() < size {
				br.Peek(br.Buffered() + 1)
			}
			before := br.Buffered()
			for {
				h, payload, ok, err := s.Next(br, Rules{Deflate: true})
				if err != nil {
					t.Fatalf("step %d at %d: %v", step, i, err)
				}
				if !ok {
					break
				}
				got = append(got, fmt.Sprintf("%v:%s", h.Opcode, payload))
			}
			progress = br.Buffered() < before
		}
	}
	if br.Buffered() != 0 || len(src.held) != 0 {
		t.Fatalf("step %d: %d bytes left unread", step, br.Buffered()+len(src.held))
	}
	return got
}

// The Skipper passes over data frames of any length through a small
// buffer and returns the control frames, in order.
func TestSkipperPassesOverData(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70000)
	stream := cat(
		frame(finBit|byte(OpBinary), big),
		frame(byte(OpText), []byte("frag")), frame(finBit|byte(OpPing), []byte("p1")),
		frame(0, bytes.Repeat([]byte("y"), 3000)), frame(finBit|byte(OpPong), []byte("p2")),
		frame(finBit, []byte("end")),
		frame(finBit|rsv1Bit|byte(OpText), []byte{1, 2, 3}),
		frame(finBit|byte(OpClose), []byte{0x03, 0xe8, 'o', 'k'}),
	)
	want := "[ping:p1 pong:p2 close:\x03\xe8ok]"
	for _, step := range []int{1, 7, 300, len(stream)} {
		var s Skipper
		if got := fmt.Sprint(skipAll(t, &s, stream, step, 512)); got != want {
			t.Fatalf("step %d: %s, want %s", step, got, want)
		}
	}
}

// A frame gorilla would refuse is refused while skipping too.
func TestSkipperRefusesBadFrames(t *testing.T) {
	for _, bad := range [][]byte{
		frame(finBit|0x3, nil), // reserved opcode
		cat(frame(finBit|byte(OpText), nil), frame(finBit, nil)), // continuation after FIN
		frame(finBit|rsv1Bit|byte(OpPing), nil),                  // RSV1 on a control frame
	} {
		var s Skipper
		br := bufferedReader(t, bad, 512)
		var err error
		for err == nil {
			var ok bool
			if _, _, ok, err = s.Next(br, Rules{Deflate: true}); !ok && err == nil {
				t.Fatalf("% x: no error", bad)
			}
		}
		var fe *FrameError
		if !errors.As(err, &fe) {
			t.Fatalf("% x: %v, want a FrameError", bad, err)
		}
	}
}

// Passed resumes after bytes another reader consumed from a boundary,
// stopping inside a message: the rest of that message is passed over, the
// control frames after the stop are returned, and the next message too.
func TestSkipperPassed(t *testing.T) {
	msg := cat(
		frame(byte(OpText), bytes.Repeat([]byte("a"), 200)), frame(finBit|byte(OpPing), []byte("before")),
		frame(0, bytes.Repeat([]byte("b"), 200)), frame(finBit|byte(OpPing), []byte("after")),
		frame(finBit, bytes.Repeat([]byte("c"), 10)),
	)
	next := cat(frame(finBit|byte(OpBinary), []byte("next")), frame(finBit|byte(OpClose), nil))
	// Inside the first frame's payload, at the end of the first frame
	// (a header comes next), after the ping, inside the second frame.
	first := 8 + 200
	for _, cut := range []int{10, first, first + 12, first + 12 + 8 + 100} {
		var s Skipper
		if err := s.Passed(msg[:cut]); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		got := fmt.Sprint(skipAll(t, &s, cat(msg[cut:], next), 5, 512))
		want := "[ping:after close:]"
		if cut < first+12 {
			want = "[ping:before ping:after close:]"
		}
		if got != want {
			t.Fatalf("cut %d: %s, want %s", cut, got, want)
		}
	}
	var s Skipper
	if err := s.Passed(msg[:first+3]); err == nil {
		t.Fatal("Passed accepted bytes that end inside a header")
	}
}

// InteriorControls walks the control frames between the fragments of an
// unfinished message, not the leading ones, skipping those already seen.
func TestInteriorControls(t *testing.T) {
	stream := cat(
		frame(finBit|byte(OpPong), []byte("lead")),
		frame(byte(OpText), []byte("ab")), frame(finBit|byte(OpPing), []byte("one")),
		frame(0, []byte("cd")), frame(finBit|byte(OpPong), []byte("two")),
		frame(finBit|byte(OpPing), []byte("three")),
		frame(0, bytes.Repeat([]byte("e"), 100))[:50], // unfinished
	)
	br := bufferedReader(t, stream, 1024)
	for skip, want := range []string{"[ping:one pong:two ping:three]", "[pong:two ping:three]", "[ping:three]", "[]"} {
		var got []string
		n := InteriorControls(br, Rules{}, skip, func(h Header, payload []byte) bool {
			got = append(got, fmt.Sprintf("%v:%s", h.Opcode, payload))
			return true
		})
		if n != 3 || fmt.Sprint(got) != want {
			t.Fatalf("skip %d: %d frames, %s; want 3, %s", skip, n, got, want)
		}
	}
	if m, _ := ScanMessage(br, Rules{}); m.Status != Stalled || m.Controls-m.Leading != 3 {
		t.Fatalf("ScanMessage: %+v, want stalled with 3 interior control frames", m)
	}
	// The payloads stay masked in the buffer: gorilla reads them later.
	if !bytes.Equal(buffered(br), stream) {
		t.Fatal("InteriorControls changed the buffered bytes")
	}
}
