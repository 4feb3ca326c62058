// Package wstest holds test helpers shared by wsmw's packages: a raw
// frame-level WebSocket client that sees exactly what is on the wire, and a
// few server helpers. It is internal: not part of the API.
package wstest

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Opcodes.
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// Frame is one frame as read off the wire.
type Frame struct {
	Fin     bool
	Op      byte
	Payload []byte
}

// CloseCode returns the code of a Close frame, 1005 when it has none.
func (f Frame) CloseCode() int {
	if len(f.Payload) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(f.Payload))
}

// CloseReason returns the reason of a Close frame.
func (f Frame) CloseReason() string {
	if len(f.Payload) < 2 {
		return ""
	}
	return string(f.Payload[2:])
}

// RawClient is a WebSocket client that writes and reads single frames.
type RawClient struct {
	Conn     net.Conn
	br       *bufio.Reader
	Response *http.Response
}

// DialRaw performs the opening handshake against a ws:// URL with extra
// header fields and returns the client, or the HTTP response and an error
// when the server did not answer 101.
func DialRaw(rawURL string, header http.Header) (*RawClient, error) {
	return DialRawFrom(nil, rawURL, header)
}

// DialRawFrom is [DialRaw] with a local address to dial from (for example
// 127.0.0.2), nil for any.
func DialRawFrom(local net.Addr, rawURL string, header http.Header) (*RawClient, error) {
	return DialRawWith(&net.Dialer{Timeout: 5 * time.Second, LocalAddr: local}, rawURL, header)
}

// DialRawWith is [DialRaw] with a dialer of the caller's (to set socket
// options, such as a small receive buffer, before connecting).
func DialRawWith(d *net.Dialer, rawURL string, header http.Header) (*RawClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	conn, err := d.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	keyBytes := make([]byte, 16)
	rand.Read(keyBytes)
	var b strings.Builder
	path := u.RequestURI()
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, u.Host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", base64.StdEncoding.EncodeToString(keyBytes))
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

// WriteFrame writes one masked frame (see [AppendFrame]).
func (c *RawClient) WriteFrame(op byte, fin bool, payload []byte) error {
	_, err := c.Conn.Write(AppendFrame(make([]byte, 0, 14+len(payload)), op, fin, payload))
	return err
}

// WriteText writes a text message in one frame.
func (c *RawClient) WriteText(s string) error { return c.WriteFrame(OpText, true, []byte(s)) }

// WriteClose writes a Close frame with code and reason; code < 0 writes one
// with an empty payload.
func (c *RawClient) WriteClose(code int, reason string) error {
	if code < 0 {
		return c.WriteFrame(OpClose, true, nil)
	}
	p := binary.BigEndian.AppendUint16(nil, uint16(code))
	return c.WriteFrame(OpClose, true, append(p, reason...))
}

// ReadFrame reads one frame, waiting at most timeout.
func (c *RawClient) ReadFrame(timeout time.Duration) (Frame, error) {
	c.Conn.SetReadDeadline(time.Now().Add(timeout))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return Frame{}, err
	}
	f := Frame{Fin: h[0]&0x80 != 0, Op: h[0] & 0x0f}
	if h[1]&0x80 != 0 {
		return f, errors.New("server frame is masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(c.br, e[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(c.br, e[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(e[:])
	}
	f.Payload = make([]byte, n)
	_, err := io.ReadFull(c.br, f.Payload)
	return f, err
}

// ReadUntilClose reads frames until a Close frame, returning it and the
// frames before it.
func (c *RawClient) ReadUntilClose(timeout time.Duration) (Frame, []Frame, error) {
	var before []Frame
	deadline := time.Now().Add(timeout)
	for {
		f, err := c.ReadFrame(time.Until(deadline))
		if err != nil {
			return f, before, err
		}
		if f.Op == OpClose {
			return f, before, nil
		}
		before = append(before, f)
	}
}

// WaitEOF reads until the server closes TCP and returns the frames that
// came before, or an error if the server did not close within timeout.
func (c *RawClient) WaitEOF(timeout time.Duration) ([]Frame, error) {
	var frames []Frame
	deadline := time.Now().Add(timeout)
	for {
		f, err := c.ReadFrame(time.Until(deadline))
		if errors.Is(err, io.EOF) {
			return frames, nil
		}
		if err != nil {
			return frames, err
		}
		frames = append(frames, f)
	}
}

// Close closes the TCP connection.
func (c *RawClient) Close() error { return c.Conn.Close() }

// Reset closes the TCP connection with an RST (SO_LINGER 0).
func (c *RawClient) Reset() error {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	return c.Conn.Close()
}
