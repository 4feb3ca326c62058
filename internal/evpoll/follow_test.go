package evpoll

import (
	"bytes"
	"testing"
)

func TestFollower(t *testing.T) {
	ping := frame(finBit|byte(OpPing), []byte("p"))
	big := bytes.Repeat([]byte("x"), 70000)
	tests := []struct {
		name string
		msg  []byte // a message from a boundary
		end  int    // where it ends; 0: never (a Close or a bad frame first)
	}{
		{"one frame", frame(finBit|byte(OpText), []byte("hello")), 11},
		{"empty", frame(finBit|byte(OpBinary), nil), 6},
		{"64-bit length", frame(finBit|byte(OpBinary), big), 14 + len(big)},
		{"pongs first", cat(frame(finBit|byte(OpPong), nil), ping, frame(finBit|byte(OpText), []byte("a"))), 6 + 7 + 7},
		{"fragments and pings", cat(frame(byte(OpText), []byte("ab")), ping, frame(0, nil), frame(finBit, []byte("cd"))), 8 + 7 + 6 + 8},
		{"compressed", frame(finBit|rsv1Bit|byte(OpText), []byte{1, 2, 3}), 9},
		{"close inside", cat(frame(byte(OpText), []byte("ab")), frame(finBit|byte(OpClose), nil), frame(finBit, nil)), 0},
		{"bad frame inside", cat(frame(byte(OpText), []byte("ab")), frame(finBit|byte(OpText), nil)), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := frame(finBit|byte(OpText), []byte("next message"))
			stream := cat(tt.msg, after)
			for _, step := range []int{1, 2, 3, 7, 64, len(stream)} {
				var f Follower
				for i := 0; i < len(stream); i += step {
					f.Write(stream[i:min(i+step, len(stream))])
				}
				end, ok := f.End()
				if f.Fed() != int64(len(stream)) {
					t.Fatalf("step %d: fed %d of %d", step, f.Fed(), len(stream))
				}
				if tt.end == 0 {
					if ok {
						t.Fatalf("step %d: an end at %d", step, end)
					}
					continue
				}
				if !ok || end != int64(tt.end) {
					t.Fatalf("step %d: end %d ok %v, want %d", step, end, ok, tt.end)
				}
			}
			// Where ScanMessage sees the whole message, both agree.
			if tt.end > 0 && len(stream) <= 4096 {
				m, err := ScanMessage(bufferedReader(t, stream, 4096), Rules{Deflate: true})
				if err != nil || m.Status != Complete || m.Wire != tt.end {
					t.Fatalf("ScanMessage: %+v %v", m, err)
				}
			}
			// Until the last byte of the message, no end.
			if tt.end > 0 {
				var f Follower
				f.Write(stream[:tt.end-1])
				if _, ok := f.End(); ok {
					t.Fatal("an end before the message's last byte")
				}
			}
		})
	}
}
