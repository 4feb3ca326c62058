package wstest

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// DialRawWith is DialRaw through d, so that a test can shape the client's
// socket before it connects (d.Control: a small SO_RCVBUF, say).
func DialRawWith(d *net.Dialer, rawURL string, header http.Header) (*RawClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	conn, err := d.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	rand.Read(key)
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", u.RequestURI(), u.Host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", base64.StdEncoding.EncodeToString(key))
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		conn.Close()
		return nil, err
	}
	c := &RawClient{Conn: conn, br: br, Response: resp}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return c, fmt.Errorf("handshake: status %d", resp.StatusCode)
	}
	return c, nil
}

// AppendFrame appends one masked client frame to dst, as WriteFrame writes
// it, so that a test can build a batch of frames and write it at once.
func AppendFrame(dst []byte, op byte, fin bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	dst = append(dst, b0)
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
	b0 := op
	if fin {
		b0 |= 0x80
	}
	dst = append(dst, b0, 0x80|127)
	dst = binary.BigEndian.AppendUint64(dst, length)
	return appendMasked(dst, payload)
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
