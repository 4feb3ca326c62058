package evpoll

import (
	"bufio"
	"errors"
)

// Skipper reads a connection's frames once only the peer's Close is
// awaited (the connection is closing): it passes over data frames as
// their bytes are buffered, whatever their length, so that it never needs
// a whole message in the buffer, and returns each whole control frame. It
// reads from a frame boundary, or from wherever Passed left it.
//
// The zero Skipper is ready, at a frame boundary between messages.
type Skipper struct {
	skip      int64 // payload bytes of the current data frame still to pass
	inMessage bool  // a data message is in progress (its last frame not seen)
}

// errPassedShort: the bytes given to Passed end inside a header or a
// control frame, where gorilla never stops.
var errPassedShort = errors.New("evpoll: consumed bytes end inside a header or a control frame")

// Next passes over the buffered bytes of data frames and returns the next
// control frame once it is wholly buffered, consumed from br, with its
// payload unmasked in place (valid until the next read from br). ok is
// false when more bytes are needed; a [FrameError] reports a frame that
// breaks the rules (as gorilla would, Stricter ones included). It never
// reads from br's source.
func (s *Skipper) Next(br *bufio.Reader, rules Rules) (h Header, payload []byte, ok bool, err error) {
	for {
		if s.skip > 0 {
			n := min(s.skip, int64(br.Buffered()))
			br.Discard(int(n))
			if s.skip -= n; s.skip > 0 {
				return h, nil, false, nil
			}
		}
		p := buffered(br)
		h, need, err := parseHeader(p, rules, s.inMessage)
		if err != nil || need > 0 {
			return h, nil, false, err
		}
		if !h.Opcode.IsControl() {
			br.Discard(h.Size)
			s.skip, s.inMessage = h.Length, !h.Fin
			continue
		}
		payload, ok = takeControl(br, p, h)
		return h, payload, ok, nil
	}
}

// Passed moves s past p: bytes from a frame boundary between messages that
// another reader (gorilla) consumed, stopping inside a data message (at a
// read limit, say). Next then goes on from where that reader stopped:
// through the rest of its frame, and the message's later frames. Gorilla
// reads headers and control frames whole, so p may end inside a data
// frame's payload or at a frame boundary, never elsewhere.
func (s *Skipper) Passed(p []byte) error {
	*s = Skipper{}
	for len(p) > 0 {
		if s.skip > 0 {
			n := min(s.skip, int64(len(p)))
			s.skip -= n
			p = p[n:]
			continue
		}
		// Gorilla took these bytes: read them as it did, compressed
		// messages allowed.
		h, need, err := parseHeader(p, Rules{Deflate: true}, s.inMessage)
		switch {
		case err != nil:
			return err
		case need > 0:
			return errPassedShort
		case h.Opcode.IsControl():
			end := h.Size + int(h.Length)
			if len(p) < end {
				return errPassedShort
			}
			p = p[end:]
		default:
			s.skip, s.inMessage = h.Length, !h.Fin
			p = p[h.Size:]
		}
	}
	return nil
}
