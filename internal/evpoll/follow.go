package evpoll

import "errors"

// Follower follows one data message through a connection's bytes, from a
// frame boundary between messages on, fed as they are read from the
// socket, and tells where the message ends. It is for the blocking path:
// after gorilla has read a TooBig or Stalled message, gorilla must have
// stopped exactly at the message's end. (With permessage-deflate, gorilla
// returns a message as soon as its deflate stream ends, which a client
// can make happen inside a frame; gorilla would skip the rest on its next
// read, which may block. The caller fails such a connection instead.)
//
// Feed it first the bytes already buffered (br.Peek(br.Buffered())), then
// every byte read from the socket after that, for example from a tap in
// the reader under the bufio.Reader. After the read, the bytes gorilla
// consumed are Fed() - br.Buffered(); they must equal End.
//
// The zero Follower is ready to use, from a boundary.
type Follower struct {
	hdr    [MaxHeaderSize]byte
	hn     int   // header bytes gathered
	need   int   // header bytes needed, once known
	skip   int64 // payload bytes of the current frame still to pass
	fed    int64
	inMsg  bool
	final  bool  // the current frame is the message's last data frame
	closed bool  // the current frame is a Close frame
	end    int64 // 0 until known
	err    error
}

// errFollowClose stops a Follower at a Close frame: gorilla's read ends
// there with the peer's close, not with a message.
var errFollowClose = errors.New("evpoll: a Close frame comes before the message ends")

// Write feeds bytes to the Follower; it never fails (io.Writer).
func (f *Follower) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && f.end == 0 && f.err == nil {
		if f.skip > 0 {
			k := int64(len(p))
			if k > f.skip {
				k = f.skip
			}
			f.skip -= k
			f.fed += k
			p = p[k:]
			if f.skip == 0 {
				f.frameDone()
			}
			continue
		}
		// Gather a header: 2 bytes tell how long it is.
		if f.need == 0 {
			f.need = 2
		}
		k := min(f.need-f.hn, len(p))
		copy(f.hdr[f.hn:], p[:k])
		f.hn += k
		f.fed += int64(k)
		p = p[k:]
		if f.hn < f.need {
			continue
		}
		h, need, err := parseHeader(f.hdr[:f.hn], Rules{Deflate: true}, f.inMsg)
		if err != nil {
			f.err = err
			break
		}
		if need > 0 {
			f.need = need
			continue
		}
		f.hn, f.need = 0, 0
		f.closed = h.Opcode == OpClose
		f.final = !h.Opcode.IsControl() && h.Fin
		if !h.Opcode.IsControl() {
			f.inMsg = true
		}
		f.skip = h.Length
		if f.skip == 0 {
			f.frameDone()
		}
	}
	f.fed += int64(len(p))
	return n, nil
}

func (f *Follower) frameDone() {
	switch {
	case f.closed:
		f.err = errFollowClose
	case f.final:
		f.end = f.fed
	}
}

// Fed is the number of bytes fed so far.
func (f *Follower) Fed() int64 { return f.fed }

// End is the offset, from the boundary, just past the message: through
// its last fragment and the control frames before and between its
// fragments. ok is false until the whole message has been fed, and stays
// false when a Close frame or a malformed frame comes first (gorilla's
// read ends in an error there).
func (f *Follower) End() (end int64, ok bool) { return f.end, f.end != 0 }
