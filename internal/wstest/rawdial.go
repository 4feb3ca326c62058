package wstest

import (
	"crypto/rand"
	"encoding/binary"
)

// AppendFrame appends one masked client frame to dst, as WriteFrame writes
// it, so that a test can build a batch of frames and write it at once.
func AppendFrame(dst []byte, op byte, fin bool, payload []byte) []byte {
	dst = append(dst, firstByte(op, fin))
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return appendMasked(dst, payload)
}

// AppendFrameLength64 appends the header of a masked client frame whose
// 64-bit extended payload length is length, verbatim (a length with the
// top bit set is what RFC 6455 §5.2 forbids), followed by payload.
func AppendFrameLength64(dst []byte, op byte, fin bool, length uint64, payload []byte) []byte {
	dst = append(dst, firstByte(op, fin), 0x80|127)
	dst = binary.BigEndian.AppendUint64(dst, length)
	return appendMasked(dst, payload)
}

// firstByte is a frame's first byte: the FIN bit and the opcode.
func firstByte(op byte, fin bool) byte {
	if fin {
		return 0x80 | op
	}
	return op
}

// appendMasked appends a fresh masking key and payload masked with it.
func appendMasked(dst, payload []byte) []byte {
	var key [4]byte
	rand.Read(key[:])
	dst = append(dst, key[:]...)
	for i, v := range payload {
		dst = append(dst, v^key[i%4])
	}
	return dst
}
