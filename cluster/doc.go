// Package cluster makes revocation cluster-wide: Revoke on any server
// closes the subject's connections on every server that shares one Redis
// (go-redis/v9), each with the same 1008 "session revoked" as
// lifecycle.Registry.Revoke.
//
// A revocation is recorded in a Redis stream and announced on a pub/sub
// channel in one atomic script. Every Node listens on the channel; when its
// subscription is (re)established it first reads the stream from the last
// entry it saw, so revocations made while it was cut off are applied when it
// reconnects. A revocation made while Redis is unreachable is applied
// locally at once, queued, and published when Redis is back.
//
// A revocation closes the connections that were open when it was made (by
// the clock of the server that made it, plus WithClockSkew), so applying an
// old one late never closes a connection opened after it.
//
// Redis trouble never blocks or closes local connections: the Node works
// in its own goroutines, every Redis call is bounded (WithTimeout), and
// connection paths never wait on Redis.
//
// Connection caps across servers come from the ratelimit package with a
// ratelimit.RedisStore; see MaxConnsPerSubject.
package cluster
