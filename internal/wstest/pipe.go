package wstest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// PipeDial serves one request with h over an in-memory connection and
// dials it with gorilla's client, returning the client end of the
// WebSocket. It needs no network and works inside a testing/synctest
// bubble, where timers, deadlines and the pipe all follow the bubble's fake
// clock. target is the request URI, such as "/ws". When h does not
// upgrade, the response is returned with [websocket.ErrBadHandshake].
//
// The connection is buffered like a socket ([PipeBuffer] bytes each way; see
// [BufferedPipe]), so a write returns before the peer reads it.
func PipeDial(h http.Handler, target string, header http.Header) (*websocket.Conn, *http.Response, error) {
	cli, srv := BufferedPipe()
	go servePipe(h, srv)
	d := websocket.Dialer{
		NetDialContext: func(context.Context, string, string) (net.Conn, error) {
			return cli, nil
		},
		HandshakeTimeout: 10 * time.Second,
	}
	ws, resp, err := d.Dial("ws://pipe"+target, header)
	if err != nil {
		cli.Close()
	}
	return ws, resp, err
}

func servePipe(h http.Handler, conn net.Conn) {
	br := bufio.NewReader(conn)
	req, err := http.ReadRequest(br)
	if err != nil {
		conn.Close()
		return
	}
	req.RemoteAddr = "192.0.2.1:1234" // TEST-NET-1: a syntactically valid peer
	w := &pipeResponse{conn: conn, br: br, header: http.Header{}}
	h.ServeHTTP(w, req)
	w.finish()
}

// pipeResponse is a hijackable [http.ResponseWriter] over a pipe.
type pipeResponse struct {
	conn     net.Conn
	br       *bufio.Reader
	header   http.Header
	status   int
	body     bytes.Buffer
	hijacked bool
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *pipeResponse) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

func (w *pipeResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, errors.New("wstest: already hijacked")
	}
	w.hijacked = true
	return w.conn, bufio.NewReadWriter(w.br, bufio.NewWriter(w.conn)), nil
}

// finish writes a response that was not hijacked and closes the pipe.
func (w *pipeResponse) finish() {
	if w.hijacked {
		return
	}
	w.WriteHeader(http.StatusOK)
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	w.header.Set("Content-Length", fmt.Sprint(w.body.Len()))
	w.header.Set("Connection", "close")
	w.header.Write(&b)
	b.WriteString("\r\n")
	b.Write(w.body.Bytes())
	w.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	w.conn.Write(b.Bytes())
	w.conn.Close()
}

// PipeBuffer is how many bytes [BufferedPipe] holds in each direction, about
// what a loopback socket accepts before a writer blocks.
const PipeBuffer = 64 << 10

const pipeChunk = 4 << 10

// BufferedPipe returns two ends of an in-memory connection that, unlike
// net.Pipe, buffers up to [PipeBuffer] bytes each way: a write returns once
// the bytes are buffered, and blocks (honouring its deadline) when the
// buffer is full because the peer does not read. Closing one end delivers
// what it wrote, then EOF, to the other. It is built from two net.Pipes and
// relay goroutines that exit once both ends are closed, so it works inside
// a testing/synctest bubble.
func BufferedPipe() (net.Conn, net.Conn) {
	a, aRelay := net.Pipe()
	b, bRelay := net.Pipe()
	go relay(aRelay, bRelay)
	go relay(bRelay, aRelay)
	return a, b
}

// relay copies src to dst through a bounded buffer. When src ends, dst is
// closed once the buffer is delivered; when dst fails, the rest is
// discarded.
func relay(src, dst net.Conn) {
	ch := make(chan []byte, PipeBuffer/pipeChunk)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, pipeChunk)
			n, err := src.Read(buf)
			if n > 0 {
				ch <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for b := range ch {
		if failed {
			continue
		}
		if _, err := dst.Write(b); err != nil {
			failed = true
			dst.Close()
		}
	}
	dst.Close()
}
