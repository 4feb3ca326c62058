// Package evpoll is the machinery under wsmw's event mode: readiness for many
// idle connections without a goroutine or a read buffer each.
//
// It has three independent parts:
//
//   - Poller: one epoll instance (Linux only), level-triggered with
//     EPOLLONESHOT, whose own descriptor is waited on through Go's runtime
//     poller. A connection is registered under a caller-chosen 64-bit id;
//     each wake-up delivers (id, Events) once and disarms the connection
//     until Rearm. On other systems New reports ErrUnsupported.
//   - Pool: a queued pool of worker goroutines with two priorities, which
//     starts small and grows only when a watchdog sees queued work, no
//     completions and every worker busy, and shrinks back when idle.
//   - Frame helpers (PeekHeader, ReadControl, ScanMessage, ParseClose): they
//     look at the bytes already buffered in a *bufio.Reader at a frame
//     boundary (RFC 6455 §5.2, server side) and never read from the
//     connection, so a caller can consume control frames itself and hand
//     gorilla/websocket only reads that cannot block.
//
// BufferPool lets an idle connection's bufio.Reader give its buffer back.
//
// The package depends on the standard library and golang.org/x/sys only.
package evpoll
