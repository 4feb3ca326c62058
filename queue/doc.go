// Package queue is wsmw's send path that never blocks on a peer: a bounded
// Queue per connection (Send), Broadcast to a Registry's connections, the
// [SlowConsumer] policy that sets the bounds and what overflow does, and the
// read loop of endpoints that only push ([DiscardMessages]).
//
// A Queue's writer goroutine runs only while the queue holds messages, so
// an idle connection costs no goroutine beyond its handler's. A peer that
// does not keep up overflows its own queue and is closed with 1008 "slow
// consumer" (cause [ErrSlowConsumer]), or has messages dropped, while
// everyone else carries on.
package queue
