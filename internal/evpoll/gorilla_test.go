package evpoll

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// This file holds the gorilla side of the tests: a server-side gorilla
// Conn made over any net.Conn with a bufio.Reader of our own under it (the
// way the core's Hijack wrapper will hand it over), and a client-side
// gorilla Conn whose frames are captured as bytes.

// hijacker is an http.ResponseWriter whose Hijack hands gorilla a given
// connection and bufio.Reader.
type hijacker struct {
	nc net.Conn
	br *bufio.Reader
	h  http.Header
}

func (h *hijacker) Header() http.Header {
	if h.h == nil {
		h.h = http.Header{}
	}
	return h.h
}
func (h *hijacker) Write(p []byte) (int, error) { return len(p), nil }
func (h *hijacker) WriteHeader(int)             {}
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.nc, bufio.NewReadWriter(h.br, bufio.NewWriterSize(h.nc, 512)), nil
}

var writeBuffers sync.Pool

// upgradeRequest is a client's opening handshake, as net/http parses it.
func upgradeRequest(deflate bool) *http.Request {
	r := &http.Request{
		Method:     http.MethodGet,
		URL:        &url.URL{Path: "/ws"},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1,
		Host: "example",
		Header: http.Header{
			"Connection":            {"Upgrade"},
			"Upgrade":               {"websocket"},
			"Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
		},
	}
	if deflate {
		r.Header.Set("Sec-Websocket-Extensions", "permessage-deflate")
	}
	return r
}

// serverConn upgrades nc to a server-side gorilla Conn. With own set,
// gorilla reads through own (ReadBufferSize 0 and a reader above 256
// bytes make it take the hijacked reader); otherwise it makes a 4 KiB
// reader of its own.
func serverConn(nc net.Conn, own *bufio.Reader, deflate bool) (*websocket.Conn, error) {
	return upgrade(nc, own, upgradeRequest(deflate), deflate)
}

// upgrade answers req on nc; see serverConn.
func upgrade(nc net.Conn, own *bufio.Reader, req *http.Request, deflate bool) (*websocket.Conn, error) {
	u := websocket.Upgrader{
		EnableCompression: deflate,
		WriteBufferPool:   &writeBuffers,
		CheckOrigin:       func(*http.Request) bool { return true },
	}
	br := own
	if br == nil {
		u.ReadBufferSize = 4096
		br = bufio.NewReaderSize(nc, 4096)
	}
	return u.Upgrade(&hijacker{nc: nc, br: br}, req, nil)
}

// fakeAddr is a net.Addr for in-memory connections.
type fakeAddr struct{}

func (fakeAddr) Network() string { return "mem" }
func (fakeAddr) String() string  { return "mem" }

// memConn is the part of net.Conn in-memory connections share.
type memConn struct{}

func (memConn) Close() error                     { return nil }
func (memConn) LocalAddr() net.Addr              { return fakeAddr{} }
func (memConn) RemoteAddr() net.Addr             { return fakeAddr{} }
func (memConn) SetDeadline(time.Time) error      { return nil }
func (memConn) SetReadDeadline(time.Time) error  { return nil }
func (memConn) SetWriteDeadline(time.Time) error { return nil }

// captureConn plays the server for a gorilla client: it answers the
// opening handshake and records every byte the client writes after it.
type captureConn struct {
	memConn
	deflate bool
	req     []byte
	resp    bytes.Buffer
	out     bytes.Buffer
}

func (c *captureConn) Write(p []byte) (int, error) {
	if c.resp.Len() > 0 || c.out.Len() > 0 || bytes.Contains(c.req, []byte("\r\n\r\n")) {
		return c.out.Write(p)
	}
	c.req = append(c.req, p...)
	if !bytes.Contains(c.req, []byte("\r\n\r\n")) {
		return len(p), nil
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(c.req)))
	if err != nil {
		return 0, err
	}
	h := sha1.Sum([]byte(req.Header.Get("Sec-Websocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	fmt.Fprintf(&c.resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
		base64.StdEncoding.EncodeToString(h[:]))
	if c.deflate {
		c.resp.WriteString("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n")
	}
	c.resp.WriteString("\r\n")
	return len(p), nil
}

func (c *captureConn) Read(p []byte) (int, error) { return c.resp.Read(p) }

// clientConn returns a client-side gorilla Conn whose frames land in the
// returned buffer.
func clientConn(writeBufferSize int, deflate bool) (*websocket.Conn, *bytes.Buffer, error) {
	cc := &captureConn{deflate: deflate}
	d := websocket.Dialer{
		NetDial:           func(string, string) (net.Conn, error) { return cc, nil },
		ReadBufferSize:    1024,
		WriteBufferSize:   writeBufferSize,
		EnableCompression: deflate,
	}
	ws, _, err := d.Dial("ws://example/ws", nil)
	if err != nil {
		return nil, nil, err
	}
	return ws, &cc.out, nil
}

// noDeadline is the zero deadline for gorilla's WriteControl.
var noDeadline time.Time

// errWouldBlock is what feedConn returns when a read finds no bytes yet: a
// read that would block on a socket. Gorilla must never see it.
var errWouldBlock = errors.New("read would block")

// feedConn is a connection whose bytes arrive in steps: avail of data have
// "arrived"; reading past them returns errWouldBlock, or io.EOF once final.
type feedConn struct {
	memConn
	data  []byte
	avail int
	off   int
	final bool
	carry []byte // read first: bytes moving into a grown buffer
}

func (c *feedConn) Read(p []byte) (int, error) {
	if len(c.carry) > 0 {
		n := copy(p, c.carry)
		c.carry = c.carry[n:]
		return n, nil
	}
	if c.off == c.avail {
		if c.final && c.avail == len(c.data) {
			return 0, io.EOF
		}
		return 0, errWouldBlock
	}
	n := copy(p, c.data[c.off:c.avail])
	c.off += n
	return n, nil
}

func (c *feedConn) Write(p []byte) (int, error) { return len(p), nil }

// arrive makes n more bytes available.
func (c *feedConn) arrive(n int) { c.avail = min(len(c.data), c.avail+n) }

// classify names how a gorilla read ended, the same way for both sides.
func classify(err error) string {
	var ce *websocket.CloseError
	switch {
	case errors.Is(err, errWouldBlock):
		return "err:BLOCKED"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "err:eof"
	case errors.As(err, &ce) && ce.Code == websocket.CloseAbnormalClosure && strings.Contains(ce.Text, "unexpected EOF"):
		return "err:eof"
	case errors.As(err, &ce):
		return "err:close"
	case errors.Is(err, websocket.ErrReadLimit):
		return "err:limit"
	}
	return "err:" + err.Error()
}

// logHandlers makes ws record the control frames it handles in *log.
func logHandlers(ws *websocket.Conn, log *[]string) {
	ws.SetPingHandler(func(s string) error { *log = append(*log, fmt.Sprintf("ping %x", s)); return nil })
	ws.SetPongHandler(func(s string) error { *log = append(*log, fmt.Sprintf("pong %x", s)); return nil })
	ws.SetCloseHandler(func(code int, text string) error {
		*log = append(*log, fmt.Sprintf("close %d %x", code, text))
		return nil
	})
}
