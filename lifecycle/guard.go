package lifecycle

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"time"
)

// The frame guard is the net.Conn that gorilla/websocket reads from. It
// passes every byte through unchanged and follows the frame headers in the
// stream as they go by (a header is 2 to 14 bytes; payloads are skipped
// without being looked at), so that it sees what gorilla hides from the
// application:
//
//   - control frames, which gorilla answers on its own inside a read: pings
//     and unsolicited pongs are charged to a token bucket (a pong that
//     answers one of our pings is free), and a peer over its budget is
//     closed with 1008 "too many control frames" (ErrControlFlood);
//   - fragments: a message may be sent in at most [FrameLimits.FragmentsBase]
//     frames, plus one more for every [FrameLimits.FragmentBytes] bytes of payload declared
//     so far, so that zero-length continuation frames cannot keep a reader
//     busy forever without a message ever completing; beyond, 1008 "too
//     many fragments" (ErrFragmentFlood);
//   - malformed frames that gorilla accepts or answers with nothing on the
//     wire: a Close frame with a 1-byte payload (RFC 6455 §5.5.1) and a
//     64-bit length with its top bit set (§5.2), both 1002.
//
// When a frame breaks a rule, Read returns the bytes before that frame
// (gorilla handles them first) together with a [*CloseError], which gorilla
// hands back from the read that reaches it; the arbiter then sends that
// Close frame. The guard also records whether the transport itself failed,
// which tells a protocol error (answered with 1002) from a lost connection
// (1006) without guessing from error values.
//
// It runs on the reading goroutine only, costs a few words per connection
// and no allocation, and per message a loop over its header bytes.
type frameGuard struct {
	net.Conn
	set atomic.Pointer[connSettings] // the Conn's settings (settings.go)

	skip    uint64      // payload bytes of the current frame still to come
	payload uint64      // payload bytes declared by those frames
	tat     int64       // control budget: theoretical arrival time (GCRA), since epoch
	failure *CloseError // the rule a frame broke; Read returns it from then on
	frames  uint32      // frames of the message in progress

	pongCredit atomic.Int32 // pongs owed to us for our pings

	hdr       [maxHeaderLen]byte
	hdrLen    uint8
	transport bool // the transport returned an error
}

const maxHeaderLen = 14

// maxPongCredit bounds the free pongs that unanswered pings accumulate.
const maxPongCredit = 8

// FrameLimits are the per-connection budgets of the frame guard. The zero
// value of a field means its default; a negative value turns that budget
// off.
type FrameLimits struct {
	// ControlRate is how many pings and unsolicited pongs per second a peer
	// may send in the long run (default 10).
	ControlRate float64
	// ControlBurst is how many it may send at once (default 50).
	ControlBurst int
	// FragmentsBase is how many frames any message may have (default 64).
	FragmentsBase int
	// FragmentBytes buys one more frame per that many payload bytes
	// (default 64).
	FragmentBytes int
}

// Defaults of [FrameLimits]: generous for every client seen in the wild
// (browsers and most libraries send no pings and one frame per message;
// gorilla's client cuts messages at its write buffer, 4 KiB by default),
// tight enough that a flood is closed within milliseconds.
const (
	defaultControlRate   = 10
	defaultControlBurst  = 50
	defaultFragmentsBase = 64
	defaultFragmentBytes = 64
)

// defaultFrameLimits is the budget of every connection unless its config
// says otherwise: every field at its default.
var defaultFrameLimits = FrameLimits{}

// Causes of the closes made by the frame guard.
var (
	// ErrControlFlood: the peer sent pings or unsolicited pongs faster
	// than its budget allows (1008 "too many control frames").
	ErrControlFlood = NewCause("control_flood", "control frame flood")
	// ErrFragmentFlood: the peer split a message into more frames than its
	// budget allows (1008 "too many fragments").
	ErrFragmentFlood = NewCause("fragment_flood", "fragment flood")
)

// The guard's answers, prebuilt: breaking a rule allocates nothing.
var (
	errControlFlood = &CloseError{Code: StatusPolicyViolation, Reason: "too many control frames", Initiator: InitiatorLocal, Cause: ErrControlFlood}
	errFragments    = &CloseError{Code: StatusPolicyViolation, Reason: "too many fragments", Initiator: InitiatorLocal, Cause: ErrFragmentFlood}
	errShortClose   = protocolFailure("close frame too short")
	errFrameLength  = protocolFailure("invalid frame length")
)

func protocolFailure(reason string) *CloseError {
	return &CloseError{Code: StatusProtocolError, Reason: reason, Initiator: InitiatorLocal, Cause: &protocolError{reason}}
}

// protocolError is the cause of a 1002: [ErrProtocol] with what was wrong.
type protocolError struct{ what string }

func (e *protocolError) Error() string { return ErrProtocol.Error() + ": " + e.what }
func (e *protocolError) Unwrap() error { return ErrProtocol }

// Read reads from the transport and follows the frames in what it read.
func (g *frameGuard) Read(p []byte) (int, error) {
	if g.failure != nil {
		return 0, g.failure
	}
	n, err := g.Conn.Read(p)
	return g.passed(p, n, err)
}

// passed looks at the n bytes just read into p, and at the read's error.
func (g *frameGuard) passed(p []byte, n int, err error) (int, error) {
	if n > 0 {
		if cut, failed := g.scan(p[:n]); failed != nil {
			g.failure = failed
			return cut, failed
		}
	}
	if err != nil {
		g.transport = true
	}
	return n, err
}

// SetWriteDeadline is what gorilla calls before each frame it writes,
// under its write lock: a data frame comes with no deadline (the Conn never
// sets gorilla's) and gets one from the write timeout; a control frame
// comes with its own.
func (g *frameGuard) SetWriteDeadline(t time.Time) error {
	if t.IsZero() {
		if d := g.set.Load().writeTimeout; d > 0 {
			t = time.Now().Add(d)
		}
	}
	return g.Conn.SetWriteDeadline(t)
}

// CloseWrite half-closes the transport when it can.
func (g *frameGuard) CloseWrite() error {
	if cw, ok := g.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// shutdown shuts the transport down both ways without closing it: blocked
// reads and writes fail at once, and nobody waits for them to.
func (g *frameGuard) shutdown() {
	type halfCloser interface {
		CloseRead() error
		CloseWrite() error
	}
	if hc, ok := g.Conn.(halfCloser); ok {
		hc.CloseRead()
		hc.CloseWrite()
		return
	}
	g.Conn.Close()
}

// scan follows the frame headers in b. When a frame breaks a rule it
// returns how many bytes of b come before that frame's header.
func (g *frameGuard) scan(b []byte) (int, *CloseError) {
	i := 0
	for i < len(b) {
		if g.skip > 0 {
			k := min(g.skip, uint64(len(b)-i))
			i += int(k)
			g.skip -= k
			continue
		}
		start := i - int(g.hdrLen) // negative when the header began in an earlier read
		g.hdr[g.hdrLen] = b[i]
		g.hdrLen++
		i++
		if int(g.hdrLen) < headerLen(g.hdr[:g.hdrLen]) {
			continue
		}
		g.hdrLen = 0
		if failed := g.frame(); failed != nil {
			return max(start, 0), failed
		}
	}
	return len(b), nil
}

// headerLen is the length of the frame header that starts with h (at
// least its first byte): 2 until the second byte is known.
func headerLen(h []byte) int {
	if len(h) < 2 {
		return 2
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// frame checks the complete header in g.hdr and sets up skipping its
// payload.
func (g *frameGuard) frame() *CloseError {
	h := g.hdr[:]
	op := h[0] & 0x0f
	fin := h[0]&0x80 != 0
	length := uint64(h[1] & 0x7f)
	switch length {
	case 126:
		length = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		length = binary.BigEndian.Uint64(h[2:10])
		if length>>63 != 0 {
			return errFrameLength
		}
	}
	g.skip = length
	var limits *FrameLimits
	if set := g.set.Load(); set != nil {
		limits = set.limits
	}
	if limits == nil {
		limits = &defaultFrameLimits
	}
	switch op {
	case 0x8: // Close
		if length == 1 {
			return errShortClose
		}
	case 0x9: // Ping
		return g.control(limits)
	case 0xA: // Pong
		for {
			credit := g.pongCredit.Load()
			if credit <= 0 {
				return g.control(limits)
			}
			if g.pongCredit.CompareAndSwap(credit, credit-1) {
				return nil
			}
		}
	case 0x1, 0x2, 0x0: // Text, Binary, Continuation
		if op != 0 {
			g.frames, g.payload = 0, 0 // a new message
		}
		g.frames++
		g.payload += length
		if fin {
			g.frames, g.payload = 0, 0
			return nil
		}
		return g.fragments(limits)
	}
	return nil // other opcodes: gorilla answers them with 1002
}

// control charges one control frame to the budget (GCRA: one int64 of
// state, one clock reading).
func (g *frameGuard) control(l *FrameLimits) *CloseError {
	rate, burst := l.ControlRate, l.ControlBurst
	if rate < 0 || burst < 0 {
		return nil
	}
	if rate == 0 {
		rate = defaultControlRate
	}
	if burst == 0 {
		burst = defaultControlBurst
	}
	interval := int64(float64(time.Second) / rate)
	now := int64(time.Since(epoch)) // may be negative (a synctest bubble's clock)
	tat := g.tat
	if tat == 0 || tat < now {
		tat = now
	}
	if tat-now > interval*int64(burst-1) {
		return errControlFlood
	}
	g.tat = tat + interval
	return nil
}

// fragments checks the frame count of the message in progress.
func (g *frameGuard) fragments(l *FrameLimits) *CloseError {
	base, per := l.FragmentsBase, l.FragmentBytes
	if base < 0 || per < 0 {
		return nil
	}
	if base == 0 {
		base = defaultFragmentsBase
	}
	if per == 0 {
		per = defaultFragmentBytes
	}
	if uint64(g.frames) > uint64(base)+g.payload/uint64(per) {
		return errFragments
	}
	return nil
}

// owePong records that a pong for one more of our pings is due.
func (g *frameGuard) owePong() {
	if g.pongCredit.Add(1) > maxPongCredit {
		g.pongCredit.Store(maxPongCredit)
	}
}
