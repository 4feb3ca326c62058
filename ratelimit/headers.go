package ratelimit

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"time"
)

// limitWriter carries the X-RateLimit-* fields of an upgrade request that
// a policy let through, and writes them only if the request is answered
// with an HTTP response after all (a refusal further down the chain, 401
// from auth for example): the 101 that gorilla/websocket writes on the
// hijacked connection carries none, so an upgrade that succeeds formats
// and stores nothing. A second policy updates the writer the first one
// made, so that the last one's fields go out, as when both set them.
type limitWriter struct {
	http.ResponseWriter
	limit, remaining int
	reset            time.Duration
	at               time.Time // when reset was measured
	written          bool
}

// withLimitHeaders returns w carrying the fields for an upgrade that goes
// on.
func withLimitHeaders(w http.ResponseWriter, limit, remaining int, reset time.Duration) http.ResponseWriter {
	lw, ok := w.(*limitWriter)
	if !ok {
		lw = &limitWriter{ResponseWriter: w}
	}
	lw.limit, lw.remaining, lw.reset, lw.at = limit, remaining, reset, time.Now()
	return lw
}

func (w *limitWriter) writeFields() {
	if !w.written {
		w.written = true
		setLimitHeaders(w.ResponseWriter, w.limit, w.remaining, w.reset-time.Since(w.at))
	}
}

// WriteHeader writes the fields, then the status.
func (w *limitWriter) WriteHeader(code int) {
	w.writeFields()
	w.ResponseWriter.WriteHeader(code)
}

// Write writes the fields, then the body.
func (w *limitWriter) Write(b []byte) (int, error) {
	w.writeFields()
	return w.ResponseWriter.Write(b)
}

// Hijack hands the connection over: the upgrade writes its own response.
func (w *limitWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("wsmw: the ResponseWriter does not implement http.Hijacker")
	}
	return h.Hijack()
}

// Flush flushes when the underlying writer can.
func (w *limitWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		w.writeFields()
		f.Flush()
	}
}

// Unwrap lets [http.ResponseController] reach the underlying writer.
func (w *limitWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
