package evpoll

import (
	"bufio"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Opcode is a WebSocket frame's opcode (RFC 6455 §5.2).
type Opcode uint8

// The opcodes RFC 6455 defines.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether o is a control opcode (0x8 to 0xF).
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// String names the opcode, "op(N)" for one RFC 6455 does not define.
func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

const (
	// MaxHeaderSize is the longest frame header: 2 bytes, an 8-byte
	// length and a 4-byte mask key.
	MaxHeaderSize = 14
	// MaxControlPayload is the longest payload of a control frame.
	MaxControlPayload = 125
)

// Rules is what the connection negotiated and limits, as the frame helpers
// need to know it.
type Rules struct {
	// Deflate: permessage-deflate was negotiated, so RSV1 may be set on
	// the first frame of a data message (never on a control frame or a
	// continuation frame).
	Deflate bool
	// ReadLimit is gorilla's SetReadLimit: the most payload bytes a data
	// message may have; 0 for no limit.
	ReadLimit int64
}

// Header is a client frame's parsed header.
type Header struct {
	Opcode  Opcode
	Fin     bool
	RSV1    bool // per-message compressed (only with Rules.Deflate)
	MaskKey [4]byte
	Length  int64 // payload bytes
	Size    int   // header bytes, 6 to 14
}

// WireLen is the frame's size on the wire, header and payload.
func (h Header) WireLen() int64 { return int64(h.Size) + h.Length }

// FrameError is a frame that breaks RFC 6455 (or RFC 7692), found in the
// buffered bytes. Except where Stricter is set, gorilla/websocket v1.5.3
// rejects the same frame, and handing the connection's next read to
// gorilla fails it there without blocking, the same way as in a read loop
// (a Close 1002 with gorilla's reason, or ErrReadLimit for a 64-bit length
// with its top bit set).
type FrameError struct {
	// Reason is gorilla's wording where gorilla rejects the frame too.
	Reason string
	// Stricter: a rule gorilla v1.5.3 does not enforce (RSV1 on a
	// control or continuation frame with permessage-deflate). Gorilla
	// would read on, so the caller must fail the connection itself
	// (Close 1002) rather than hand the bytes to gorilla.
	Stricter bool
}

// Error returns the reason as gorilla words its errors: "websocket: " and
// the reason.
func (e *FrameError) Error() string { return "websocket: " + e.Reason }

// reasonLength is the [FrameError] reason for a 64-bit length with its most
// significant bit set; gorilla reports that case as ErrReadLimit.
const reasonLength = "payload length has its most significant bit set"

// ErrNotControl is returned by [ReadControl] when the next frame is a data
// frame.
var ErrNotControl = errors.New("evpoll: next frame is not a control frame")

// parseHeader parses the frame header at the start of p. inMessage tells
// whether a data message is in progress (its first frame seen, not its
// last). When p is too short it returns need > 0, the header's length as
// far as p tells it; a fault already visible in p is returned as an error
// even then. The checks and their order are gorilla's (advanceFrame), so
// that an error is reported exactly when gorilla would report one.
func parseHeader(p []byte, rules Rules, inMessage bool) (h Header, need int, err error) {
	if len(p) < 2 {
		return h, 2, nil
	}
	b0, b1 := p[0], p[1]
	op := Opcode(b0 & 0x0f)
	fin := b0&0x80 != 0
	rsv1 := b0&0x40 != 0
	len7 := int64(b1 & 0x7f)

	var reasons []string // what gorilla says, in its order
	stricter := ""
	if rsv1 {
		switch {
		case !rules.Deflate:
			reasons = append(reasons, "RSV1 set")
		case op.IsControl():
			stricter = "RSV1 set on a control frame"
		case op == OpContinuation:
			stricter = "RSV1 set on a continuation frame"
		}
	}
	if b0&0x20 != 0 {
		reasons = append(reasons, "RSV2 set")
	}
	if b0&0x10 != 0 {
		reasons = append(reasons, "RSV3 set")
	}
	switch op {
	case OpClose, OpPing, OpPong:
		if len7 > MaxControlPayload {
			reasons = append(reasons, "len > 125 for control")
		}
		if !fin {
			reasons = append(reasons, "FIN not set on control")
		}
	case OpText, OpBinary:
		if inMessage {
			reasons = append(reasons, "data before FIN")
		}
	case OpContinuation:
		if !inMessage {
			reasons = append(reasons, "continuation after FIN")
		}
	default:
		reasons = append(reasons, "bad opcode "+strconv.Itoa(int(op)))
	}
	if b1&0x80 == 0 {
		reasons = append(reasons, "bad MASK") // a server reads masked frames only
	}
	if len(reasons) > 0 {
		return h, 0, &FrameError{Reason: strings.Join(reasons, ", ")}
	}
	if stricter != "" {
		return h, 0, &FrameError{Reason: stricter, Stricter: true}
	}

	size := 2
	switch len7 {
	case 126:
		size += 2
	case 127:
		size += 8
	}
	if len(p) < size {
		return h, size + 4, nil
	}
	length := len7
	switch len7 {
	case 126:
		length = int64(binary.BigEndian.Uint16(p[2:4]))
	case 127:
		u := binary.BigEndian.Uint64(p[2:10])
		if u>>63 != 0 {
			return h, 0, &FrameError{Reason: reasonLength}
		}
		length = int64(u)
	}
	size += 4
	if len(p) < size {
		return h, size, nil
	}
	h = Header{Opcode: op, Fin: fin, RSV1: rsv1, Length: length, Size: size}
	copy(h.MaskKey[:], p[size-4:size])
	return h, 0, nil
}

// buffered returns the bytes br holds, without reading.
func buffered(br *bufio.Reader) []byte {
	p, _ := br.Peek(br.Buffered())
	return p
}

// PeekHeader parses the header of the next frame from the bytes already
// buffered in br, which must be at a frame boundary between messages. It
// never reads from br's source. ok is false while the header is not all
// buffered; a [FrameError] reports a frame the rules forbid (possibly before
// the whole header is buffered, as soon as the fault shows).
func PeekHeader(br *bufio.Reader, rules Rules) (h Header, ok bool, err error) {
	h, need, err := parseHeader(buffered(br), rules, false)
	return h, err == nil && need == 0, err
}

// ReadControl consumes the next frame from br if it is a control frame
// that is wholly buffered, and returns its header and unmasked payload;
// br must be at a frame boundary between messages, and it is never read
// from its source. ok is false (and nothing consumed) while the frame is
// not all buffered; [ErrNotControl] means the next frame is a data frame.
//
// The payload is unmasked in place in br's buffer: it stays valid until
// the next read from br. A Close frame's payload is not checked here (see
// [ParseClose]).
func ReadControl(br *bufio.Reader, rules Rules) (h Header, payload []byte, ok bool, err error) {
	p := buffered(br)
	h, need, err := parseHeader(p, rules, false)
	if err != nil || need > 0 {
		return h, nil, false, err
	}
	if !h.Opcode.IsControl() {
		return h, nil, false, ErrNotControl
	}
	payload, ok = takeControl(br, p, h)
	return h, payload, ok, nil
}

// takeControl consumes the control frame h at the start of p, br's
// buffered bytes, if it is wholly buffered, and returns its payload
// unmasked in place.
func takeControl(br *bufio.Reader, p []byte, h Header) ([]byte, bool) {
	end := h.Size + int(h.Length) // at most 14 + 125
	if len(p) < end {
		return nil, false
	}
	payload := p[h.Size:end]
	for i := range payload {
		payload[i] ^= h.MaskKey[i&3]
	}
	br.Discard(end)
	return payload, true
}

// ParseClose reads a Close frame's payload as gorilla v1.5.3 does: fewer
// than two bytes mean 1005 (no status) and an empty reason; otherwise the
// code must be one a peer may send (1000-1003, 1007-1013, 3000-4999) and
// the reason valid UTF-8, or a [FrameError] says why not (gorilla's words:
// it answers that with Close 1002).
func ParseClose(payload []byte) (code int, reason string, err error) {
	if len(payload) < 2 {
		return 1005, "", nil
	}
	code = int(binary.BigEndian.Uint16(payload))
	if !validReceivedCode(code) {
		return code, "", &FrameError{Reason: "bad close code " + strconv.Itoa(code)}
	}
	if !utf8.Valid(payload[2:]) {
		return code, "", &FrameError{Reason: "invalid utf8 payload in close frame"}
	}
	return code, string(payload[2:]), nil
}

func validReceivedCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1013:
		return true
	}
	return code >= 3000 && code <= 4999
}

// Status is what [ScanMessage] found in the buffered bytes.
type Status uint8

const (
	// Incomplete: more bytes are needed; they would fit in the buffer.
	Incomplete Status = iota
	// Complete: a whole data message, every fragment to FIN and any
	// control frames before or between them, is buffered.
	Complete
	// Interrupted: a Close frame is wholly buffered before the message
	// ends (or before it starts); gorilla's read stops there with the
	// peer's close.
	Interrupted
	// OverLimit: a buffered data frame header takes the message past
	// [Rules.ReadLimit]; gorilla's read fails there (and gorilla sends
	// Close 1009).
	OverLimit
	// TooBig: the message cannot be wholly buffered in this reader: it
	// needs a larger buffer (Need bytes from the boundary to get
	// further).
	TooBig
	// Stalled: the message is incomplete, and whole control frames are
	// buffered between its fragments, where only gorilla can consume
	// them. Gorilla in a read loop would handle them now (a pong the
	// heartbeat waits for, say); to do the same, answer them
	// ([InteriorControls]) and have gorilla's handlers skip them when it
	// reads the message. Waiting instead handles them only when the rest
	// of the message arrives.
	Stalled
)

// Ready reports whether gorilla's ReadMessage can be called and will
// return without reading beyond the buffered bytes: Complete, Interrupted
// or [OverLimit].
func (s Status) Ready() bool { return s == Complete || s == Interrupted || s == OverLimit }

// String names the status.
func (s Status) String() string {
	switch s {
	case Incomplete:
		return "incomplete"
	case Complete:
		return "complete"
	case Interrupted:
		return "interrupted"
	case OverLimit:
		return "over-limit"
	case TooBig:
		return "too-big"
	case Stalled:
		return "stalled"
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// MessageScan describes the next data message as far as it is buffered.
type MessageScan struct {
	Status Status
	// Opcode is OpText or OpBinary once the first data frame's header is
	// buffered, else 0.
	Opcode Opcode
	// Compressed: RSV1 is set on the first data frame.
	Compressed bool
	// Leading is the number of whole control frames buffered ahead of the
	// message's first data frame (a Close among them ends the scan as
	// Interrupted). While the message is Incomplete the caller should
	// consume them with ReadControl rather than wait for it.
	Leading int
	// Controls is the number of whole control frames the scan passed,
	// Leading ones included: gorilla calls their handlers during the
	// read.
	Controls int
	// Frames is the number of data frame headers scanned.
	Frames int
	// Length is the payload bytes of those data frames (the whole
	// message's when Complete).
	Length int64
	// Wire, when Ready, is the number of bytes gorilla's read of the
	// message will consume from the buffer: through FIN, through the
	// Close frame, or through the header over the limit.
	Wire int
	// Need, when Incomplete, Stalled or TooBig, is how many bytes (counted from
	// the boundary) must be buffered to get further.
	Need int64
}

// ScanMessage looks at the bytes already buffered in br, which must be at
// a frame boundary between messages, and reports whether the next data
// message can be read by gorilla without blocking. It never reads from
// br's source and consumes nothing. It follows gorilla's reading of the
// same bytes exactly (fuzzed against it): control frames may come before
// and between the fragments, a Close frame ends the read, the read limit
// is checked at each data frame's header. A [FrameError] reports a frame the
// rules forbid, found before the message is complete.
func ScanMessage(br *bufio.Reader, rules Rules) (MessageScan, error) {
	return scanMessage(buffered(br), int64(br.Size()), rules)
}

func scanMessage(p []byte, capacity int64, rules Rules) (MessageScan, error) {
	var m MessageScan
	if len(p) == 0 { // nothing buffered (or a detached reader): wait
		m.Need = 2
		return m, nil
	}
	pos := 0
	inMessage := false
	for {
		h, need, err := parseHeader(p[pos:], rules, inMessage)
		if err != nil {
			return m, err
		}
		if need > 0 {
			return m.short(int64(pos+need), capacity), nil
		}
		if h.Opcode.IsControl() {
			end := pos + h.Size + int(h.Length) // Length <= 125
			if end > len(p) {
				return m.short(int64(end), capacity), nil
			}
			m.Controls++
			if !inMessage {
				m.Leading++
			}
			pos = end
			if h.Opcode == OpClose {
				m.Status, m.Wire = Interrupted, pos
				return m, nil
			}
			continue
		}
		if !inMessage {
			inMessage = true
			m.Opcode, m.Compressed = h.Opcode, h.RSV1
		}
		m.Frames++
		m.Length += h.Length // wraps past MaxInt64 as gorilla's sum does
		if m.Length < 0 || (rules.ReadLimit > 0 && m.Length > rules.ReadLimit) {
			m.Status, m.Wire = OverLimit, pos+h.Size
			return m, nil
		}
		if h.Length > capacity {
			m.Status, m.Need = TooBig, satAdd(int64(pos+h.Size), h.Length)
			return m, nil
		}
		end := int64(pos) + h.WireLen()
		if end > int64(len(p)) {
			return m.short(end, capacity), nil
		}
		pos = int(end)
		if h.Fin {
			m.Status, m.Wire = Complete, pos
			return m, nil
		}
	}
}

// InteriorControls calls f for the whole control frames buffered between
// the fragments of the data message at br's boundary (after its first
// data frame: not the Leading ones), in order, skipping the first skip of
// them, with each one's header and unmasked payload (a copy, valid during
// the call); f returning false stops the walk. It returns how many such
// frames it passed, skipped ones included. It never reads from br's
// source and consumes nothing: gorilla reads these frames later with the
// message, so a caller that handles them now (as a read loop would, when
// the message stalls) must have gorilla's handlers skip them then.
func InteriorControls(br *bufio.Reader, rules Rules, skip int, f func(h Header, payload []byte) bool) int {
	p := buffered(br)
	pos, n := 0, 0
	inMessage := false
	for {
		h, need, err := parseHeader(p[pos:], rules, inMessage)
		if err != nil || need > 0 {
			return n
		}
		end := pos + h.Size
		if !h.Opcode.IsControl() {
			if end += int(min(h.Length, int64(len(p)))); end > len(p) || h.Fin {
				return n
			}
			inMessage, pos = true, end
			continue
		}
		if end += int(h.Length); end > len(p) || h.Opcode == OpClose {
			return n
		}
		if inMessage {
			if n++; n > skip {
				var b [MaxControlPayload]byte
				payload := b[:copy(b[:], p[pos+h.Size:end])]
				for i := range payload {
					payload[i] ^= h.MaskKey[i&3]
				}
				if !f(h, payload) {
					return n
				}
			}
		}
		pos = end
	}
}

// short finishes a scan that ran out of buffered bytes: need bytes are
// required in all.
func (m MessageScan) short(need, capacity int64) MessageScan {
	m.Need = need
	switch {
	case need > capacity:
		m.Status = TooBig
	case m.Controls > m.Leading:
		m.Status = Stalled
	default:
		m.Status = Incomplete
	}
	return m
}

func satAdd(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}
