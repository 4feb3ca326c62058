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
// # What gorilla hides: the frame guard
//
// gorilla/websocket answers pings, takes pongs and assembles fragments
// inside its reader, where no read check sees them, and some malformed
// frames it either accepts (a Close frame with a 1-byte payload) or
// refuses without writing anything (a 64-bit length with its top bit set).
// So Accept puts the Conn itself under gorilla's reader: the net.Conn
// gorilla reads from is the Conn's frame guard, which passes every byte
// through and follows the frame headers as they go by (payloads are
// skipped, not looked at). It budgets what a peer may send without the
// application ever seeing it, with defaults that are on ([FrameLimits]):
// pings and unsolicited pongs are a token bucket (10 a second, bursts of
// 50; each ping the Conn writes makes one pong free, so a heartbeat never
// trips it), and a message may have at most 64 frames plus one per 64
// bytes of its payload. A peer over a budget is closed with 1008 "too many
// control frames" ([ErrControlFlood]) or "too many fragments"
// ([ErrFragmentFlood]); the two malformed frames get 1002. The guard also
// records whether the transport failed, which is how the arbiter tells a
// protocol error (answered with 1002, by gorilla or, when gorilla wrote
// nothing, by the Conn) from a lost connection (1006, nothing sent). It
// costs a few words per connection and about 25 ns per message.
//
// # What CloseInfo reports
//
// [CloseInfo] reports what the wire carried. A local close whose Close
// frame could not be written (the peer never reads, the connection was
// reset) is reported as 1006 abnormal, with the reason and cause of the
// close that was asked for; one whose frame crossed the peer's Close
// before it could leave is reported as the peer's close.
//
// # Calling back from OnClose hooks
//
// Nothing callable from an OnClose hook deadlocks. Wait and Done, asked
// from a hook while the connection's hooks run, return at once (the final
// [CloseInfo], a closed channel): the connection has ended. [Registry.Shutdown]
// called from a hook starts the drain and returns nil without waiting for
// it (it would wait for the very hook that called it).
//
// # Goroutines
//
// An open Conn costs one goroutine, the application's reader. All of its
// timers share one [time.AfterFunc], which runs a goroutine only while it
// fires. In event mode (serveEvents) an open Conn costs no goroutine: a
// shared pool reads it when bytes arrive, and the timers of every
// event-mode Conn share one runtime timer; a message function that blocks
// holds one goroutine while it blocks. The close handshake is finished
// by whichever goroutine is reading, or by the goroutine that asked for the
// close when nobody is; only closeAsync and the Registry's bulk closes
// start a short-lived goroutine for it.
package lifecycle
