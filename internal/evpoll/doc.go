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
//     keeps a few workers and hands a worker to a task that runs past its
//     budget (a watchdog's two looks), starting another in its place: a
//     task that blocks holds a goroutine of its own, never the pool.
//   - Frame helpers (PeekHeader, ReadControl, ScanMessage,
//     InteriorControls, ParseClose): they look at the bytes already
//     buffered in a *bufio.Reader at a frame boundary (RFC 6455 §5.2,
//     server side) and never read from the connection, so a caller can
//     consume control frames itself and hand gorilla/websocket only reads
//     that cannot block. Skipper reads the frames of a closing connection
//     without gorilla.
//
// [BufferPool] lets an idle connection's bufio.Reader give its buffer back.
//
// # Wiring it under gorilla/websocket
//
// The upgrade goes through a Hijack wrapper that returns a bufio.Reader the
// core owns (larger than 256 bytes, with Upgrader.ReadBufferSize 0 and a
// WriteBufferPool), so that gorilla reads through it; size it so that
// common messages fit with their headers (a 4 KiB message does not fit a
// 4 KiB reader). The connection is registered with [Poller.Add] under an id
// never reused. On each wake-up the handler:
//
//  1. looks the id up (a stale id is ignored), and Attaches a buffer if
//     the reader is detached;
//  2. reads once (br.Peek(br.Buffered()+1): the socket is readable, so it
//     does not block); an error there (end of stream) means the peer is
//     gone: hand what is buffered to gorilla, which reads to the end
//     without blocking and fails as in a read loop;
//  3. loops while bytes are buffered, on ScanMessage: a ready message
//     (Complete, Interrupted), or a FrameError that is not Stricter, goes
//     to gorilla's ReadMessage, which then cannot block; after it,
//     gorilla must have consumed exactly Wire bytes (only a compressed
//     message whose deflate stream ends early can differ: fail the
//     connection, Close 1002, as for a Stricter FrameError). OverLimit
//     (with Rules.ReadLimit set to the caller's limit, not gorilla's)
//     is the caller's to close, without gorilla. Otherwise more bytes are
//     needed: consume the Leading control frames with ReadControl and
//     call gorilla's ping and pong handlers; answer the control frames
//     inside an unfinished message that is not compressed
//     (InteriorControls) and have gorilla's handlers skip as many when it
//     reads the message; when the buffer is full (TooBig), move its bytes
//     to a larger one (twice its size, as far as Need) and read again;
//     else stop;
//  4. re-arms, Detaching the buffer first if nothing is buffered; part of
//     a message left must come within a bound of the caller's. Bytes
//     already in the bufio.Reader never wake epoll again, so step 3 must
//     leave nothing whole behind.
//
// Once the connection is closing, gorilla reads nothing more: a Skipper
// passes over what still comes (from where gorilla stopped, Passed) until
// the peer's Close.
//
// Remove comes before closing the connection. The tests hold a small
// server wired this way (harness_linux_test.go).
//
// The package depends on the standard library and golang.org/x/sys only.
package evpoll
