package lifecycle

import (
	"encoding/binary"
	"errors"
	"testing"
)

// maskedFrame builds a client frame header for op, fin and a payload of n
// bytes, followed by that payload (zero bytes).
func maskedFrame(op byte, fin bool, n int) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, 1, 2, 3, 4)
	return append(f, make([]byte, n)...)
}

// TestGuardFollowsFramesAcrossReads feeds the guard the same stream cut at
// every position: it must reach the same verdict at the same frame.
func TestGuardFollowsFramesAcrossReads(t *testing.T) {
	var stream []byte
	stream = append(stream, maskedFrame(0x1, true, 5)...)
	stream = append(stream, maskedFrame(0x2, true, 300)...)   // 16-bit length
	stream = append(stream, maskedFrame(0x2, true, 70000)...) // 64-bit length
	stream = append(stream, maskedFrame(0x1, false, 10)...)   // a fragmented message
	stream = append(stream, maskedFrame(0x9, true, 4)...)     // a ping inside it
	stream = append(stream, maskedFrame(0x0, true, 10)...)    // its end
	stream = append(stream, maskedFrame(0x8, true, 1)...)     // a 1-byte Close: refused
	stream = append(stream, maskedFrame(0x1, true, 3)...)     // never reached
	refusedAt := len(stream) - len(maskedFrame(0x1, true, 3)) - len(maskedFrame(0x8, true, 1))
	for cut := 1; cut < len(stream); cut++ {
		g := &frameGuard{}
		passed := 0
		var failed *CloseError
		for _, chunk := range [][]byte{stream[:cut], stream[cut:]} {
			n, f := g.scan(chunk)
			passed += n
			if f != nil {
				failed = f
				break
			}
		}
		want := refusedAt
		if cut > refusedAt && cut < refusedAt+6 {
			want = cut // the refused header began in the first read, already passed on
		}
		if failed != errShortClose || passed != want {
			t.Fatalf("cut at %d: %v after %d bytes, want %v after %d", cut, failed, passed, errShortClose, want)
		}
	}
}

func TestGuardBudgets(t *testing.T) {
	t.Run("pings beyond the burst", func(t *testing.T) {
		g := &frameGuard{}
		var failed *CloseError
		n := 0
		for ; failed == nil && n < 1000; n++ {
			_, failed = g.scan(maskedFrame(0x9, true, 0))
		}
		if !errors.Is(failed, ErrControlFlood) || n != defaultControlBurst+1 {
			t.Fatalf("%v after %d pings", failed, n)
		}
	})
	t.Run("pongs owed are free", func(t *testing.T) {
		g := &frameGuard{}
		for range 1000 {
			g.owePong()
			if _, failed := g.scan(maskedFrame(0xA, true, 8)); failed != nil {
				t.Fatal(failed)
			}
		}
	})
	t.Run("empty fragments", func(t *testing.T) {
		g := &frameGuard{}
		_, failed := g.scan(maskedFrame(0x1, false, 0))
		n := 1
		for ; failed == nil && n < 1000; n++ {
			_, failed = g.scan(maskedFrame(0x0, false, 0))
		}
		if !errors.Is(failed, ErrFragmentFlood) || n != defaultFragmentsBase+1 {
			t.Fatalf("%v after %d fragments", failed, n)
		}
	})
	t.Run("fragments that carry payload", func(t *testing.T) {
		g := &frameGuard{}
		_, failed := g.scan(maskedFrame(0x2, false, 64))
		for i := 0; failed == nil && i < 10000; i++ {
			_, failed = g.scan(maskedFrame(0x0, false, 64)) // 64 bytes each: always within the budget
		}
		if failed != nil {
			t.Fatal(failed)
		}
	})
	t.Run("turned off", func(t *testing.T) {
		g := guardWith(&FrameLimits{ControlRate: -1, FragmentsBase: -1})
		for range 1000 {
			if _, failed := g.scan(append(maskedFrame(0x9, true, 0), maskedFrame(0x0, false, 0)...)); failed != nil {
				t.Fatal(failed)
			}
		}
	})
}

// BenchmarkGuard measures what the frame guard adds per frame read: a
// 64-byte data message (the echo benchmarks' size), a 4 KiB one, and a
// ping (charged to the budget: a clock reading). Compare with the
// ratelimit package's BenchmarkMessageRateCheck, the other per-message
// check of a full stack.
func BenchmarkGuard(b *testing.B) {
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"text-64B", maskedFrame(0x1, true, 64)},
		{"binary-4KiB", maskedFrame(0x2, true, 4096)},
		{"ping", maskedFrame(0x9, true, 8)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g := guardWith(&FrameLimits{ControlRate: 1e12, ControlBurst: 1 << 30})
			b.ReportAllocs()
			for b.Loop() {
				if _, failed := g.scan(bc.frame); failed != nil {
					b.Fatal(failed)
				}
			}
		})
	}
}

// guardWith returns a frame guard with budgets l.
func guardWith(l *FrameLimits) *frameGuard {
	g := new(frameGuard)
	g.set.Store(&connSettings{limits: l})
	return g
}
