// Package timeout holds wsmw's timers: [SessionExpiry] (absolute lifetime),
// [IdleTimeout] (no inbound data), Heartbeat (ping/pong liveness, timing each
// round trip for Conn.RTT), [InitTimeout] (first message in time) and
// [WriteTimeout] (bounded writes). Each one's doc gives the value wsmw
// recommends for browser-facing endpoints; zero turns a policy off, and a
// negative duration panics.
//
// Each policy is one func(http.Handler) http.Handler that attaches to the
// connection after the upgrade (see package middleware). None starts a
// goroutine per connection: timers are connection-scoped [time.AfterFunc]
// timers that run only when they fire, activity is recorded by per-message
// read checks (no timer is re-created per message), and one runtime timer
// serves all of a connection's timers. middleware.WithClose changes the
// code and reason of any of their closes.
//
// # Pongs are processed only inside reads
//
// gorilla/websocket handles control frames (pings, pongs, Close) only while
// some goroutine is inside a read. A handler that never calls ReadMessage
// never sees its peer's pongs, so Heartbeat would declare a healthy peer
// dead, and it never sees the peer's Close either. A handler that only
// pushes should read with queue.DiscardMessages and send through queue.Send
// or queue.Broadcast, which keeps one goroutine per connection.
//
// Every close these policies make carries an exported cause
// ([ErrSessionExpired], [ErrIdleTimeout], [ErrPongTimeout], [ErrInitTimeout],
// lifecycle.ErrWriteTimeout) in CloseInfo.Cause and in
// context.Cause(c.Context()), usable with errors.Is.
package timeout
