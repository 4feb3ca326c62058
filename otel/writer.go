package otel

import (
	"bufio"
	"errors"
	"net"
	"net/http"
)

// statusWriter remembers the status an upgrade request was answered with,
// and whether the connection was hijacked (by the upgrade). It keeps the
// Hijacker that gorilla/websocket needs.
type statusWriter struct {
	http.ResponseWriter
	status   int
	hijacked bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Hijack hands the connection over, as the upgrade does.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("otel: the ResponseWriter does not implement http.Hijacker")
	}
	conn, brw, err := h.Hijack()
	if err == nil {
		w.hijacked = true
	}
	return conn, brw, err
}

// Flush flushes when the underlying writer can.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
