package lifecycle_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

// frameConn replays the same masked client frame for ever and swallows
// writes: it measures the read path alone, without a network.
type frameConn struct {
	frame []byte
	off   int
}

func (c *frameConn) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.frame[c.off:])
		n += k
		c.off = (c.off + k) % len(c.frame)
	}
	return n, nil
}
func (c *frameConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *frameConn) Close() error                     { return nil }
func (c *frameConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *frameConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *frameConn) SetDeadline(time.Time) error      { return nil }
func (c *frameConn) SetReadDeadline(time.Time) error  { return nil }
func (c *frameConn) SetWriteDeadline(time.Time) error { return nil }

func maskedTextFrame(payload []byte) []byte {
	f := []byte{0x81, 0x80 | byte(len(payload)), 1, 2, 3, 4}
	for i, b := range payload {
		f = append(f, b^[]byte{1, 2, 3, 4}[i%4])
	}
	return f
}

// upgradeRequest is the request of a real upgrade, as net/http would read
// it.
func upgradeRequest() *http.Request {
	req, _ := http.ReadRequest(bufio.NewReader(bytes.NewReader([]byte(
		"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))))
	return req
}

var benchUpgrader = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}

// serverConn makes a server-side gorilla connection over conn.
func serverConn(b *testing.B, conn net.Conn) *websocket.Conn {
	ws, err := benchUpgrader.Upgrade(&hijacker{conn: conn}, upgradeRequest(), nil)
	if err != nil {
		b.Fatal(err)
	}
	return ws
}

// serverLifecycleConn makes a lifecycle.Conn over conn.
func serverLifecycleConn(b *testing.B, conn net.Conn) *lifecycle.Conn {
	c, err := connx.Accept(&hijacker{conn: conn}, upgradeRequest(), &benchUpgrader, nil, connx.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

type hijacker struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijacker) Header() http.Header { return http.Header{} }
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return h.conn, bufio.NewReadWriter(bufio.NewReader(h.conn), bufio.NewWriter(io.Discard)), nil
}

// BenchmarkReadMessage compares the per-message cost of reading a 64-byte
// text message through gorilla directly and through a lifecycle.Conn.
func BenchmarkReadMessage(b *testing.B) {
	frame := maskedTextFrame(bytes.Repeat([]byte("x"), 64))
	b.Run("gorilla", func(b *testing.B) {
		ws := serverConn(b, &frameConn{frame: frame})
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := ws.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("wsmw", func(b *testing.B) {
		c := serverLifecycleConn(b, &frameConn{frame: frame})
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := c.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWriteMessage compares writing a 64-byte text message.
func BenchmarkWriteMessage(b *testing.B) {
	msg := bytes.Repeat([]byte("x"), 64)
	b.Run("gorilla", func(b *testing.B) {
		ws := serverConn(b, &frameConn{frame: []byte{0}})
		b.ReportAllocs()
		for b.Loop() {
			ws.WriteMessage(websocket.TextMessage, msg)
		}
	})
	b.Run("wsmw", func(b *testing.B) {
		c := serverLifecycleConn(b, &frameConn{frame: []byte{0}})
		b.ReportAllocs()
		for b.Loop() {
			c.WriteMessage(lifecycle.TextMessage, msg)
		}
	})
}
