// Package lifecycle owns a WebSocket connection's life: the Conn that wraps a
// gorilla/websocket connection, the close arbiter that ends it exactly once with
// one RFC 6455 close code, the hooks that learn why it ended, the
// connection-scoped timers and read checks that policies install, and the
// Registry of live connections with graceful shutdown.
//
// # The close arbiter
//
// A Conn moves from open to closing to closed. The first cause to ask for the
// close wins (a compare-and-swap); every later request is a no-op that reports
// the winner. Depending on who ended the connection:
//
//   - Local close (the application or a policy): one Close frame is written,
//     then the arbiter waits up to CloseTimeout for the peer's Close, whether or
//     not the application is reading at that moment, and closes TCP.
//   - Peer close: the peer's code and reason are recorded (1005 when the frame
//     had none), the code is echoed, and TCP is closed.
//   - Abnormal: the transport ended without a Close frame. The end is reported
//     as 1006, which is never sent. Abort ends a connection the same way after a
//     best-effort frame (the heartbeat's dead-peer case).
//
// Codes that must not appear on the wire (1004, 1005, 1006, 1015, 1016-2999 and
// anything outside 1000-4999) are never sent, and reasons are cut to 123 bytes
// at a UTF-8 boundary. OnClose hooks run exactly once, after TCP is closed, in
// registration order.
//
// # Goroutines
//
// An open Conn costs one goroutine, the application's reader. All of its
// timers share one time.AfterFunc, which runs a goroutine only while it
// fires. The close handshake is finished by whichever goroutine is reading,
// or by the goroutine that asked for the close when nobody is; only
// CloseAsync and the Registry's bulk closes start a short-lived goroutine
// for it.
package lifecycle
