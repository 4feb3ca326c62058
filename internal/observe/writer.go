package observe

import (
	"bufio"
	"errors"
	"net"
	"net/http"
)

// StatusWriter remembers the status an upgrade request was answered with,
// and whether the connection was hijacked (by the upgrade). It keeps the
// Hijacker that gorilla/websocket needs.
type StatusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

// Refusal returns the status a request that got no connection was answered
// with (200 for an empty answer, as net/http sends), and false when there
// was no answer: the connection was hijacked, but the handshake failed.
func (w *StatusWriter) Refusal() (int, bool) {
	if w.hijacked {
		return 0, false
	}
	if w.status == 0 {
		return http.StatusOK, true
	}
	return w.status, true
}

// WriteHeader records the first final status.
func (w *StatusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records 200 when no status came first.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Hijack hands the connection over, as the upgrade does.
func (w *StatusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("wsmw: the ResponseWriter does not implement http.Hijacker")
	}
	conn, brw, err := h.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, brw, err
}

// Flush flushes when the underlying writer can.
func (w *StatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets [http.ResponseController] reach the underlying writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
