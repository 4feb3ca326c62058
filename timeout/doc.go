// Package timeout holds wsmw's timers and write-path guards: SessionExpiry
// (absolute lifetime), IdleTimeout (no inbound data), Heartbeat (ping/pong
// liveness with a round-trip time), InitTimeout (first message in time),
// WriteTimeout (bounded writes), and a slow-consumer SendQueue with a
// Registry Broadcast that never blocks on one slow peer. Recommended
// bundles them with documented defaults.
//
// Each policy is one func(http.Handler) http.Handler that attaches to the
// connection after the upgrade (see package middleware). None starts a
// goroutine per connection: timers are connection-scoped time.AfterFunc
// timers that run only when they fire, activity is recorded by per-message
// read checks (no timer is re-created per message), and a SendQueue's writer
// goroutine runs only while the queue holds messages.
//
// # Pongs are processed only inside reads
//
// gorilla/websocket handles control frames (pings, pongs, Close) only while
// some goroutine is inside a read. A handler that never calls ReadMessage
// never sees its peer's pongs, so Heartbeat would declare a healthy peer
// dead, and it never sees the peer's Close either. A write-only handler must
// keep reading: call DiscardMessages in its own goroutine, wrap the handler
// with WriteOnly, or better, let the handler read (DiscardMessages) and push
// outgoing messages through Send or Broadcast from elsewhere, which keeps
// one goroutine per connection.
//
// Every close these policies make carries an exported cause
// (ErrSessionExpired, ErrIdleTimeout, ErrPongTimeout, ErrInitTimeout,
// ErrSlowConsumer, lifecycle.ErrWriteTimeout) in CloseInfo.Cause and in
// context.Cause(c.Context()), usable with errors.Is.
package timeout
