// Package cluster holds everything wsmw does with Redis (go-redis/v9): a
// Node makes revocation cluster-wide, and a Store shares the rate limits of
// package ratelimit between servers. It is a module of its own
// (github.com/wsmw/wsmw/cluster), so that wsmw's core never depends on
// go-redis.
//
// # Revocation
//
// Revoke on any server's Node closes the subject's connections on every
// server that shares one Redis, each with the same 1008 "session revoked"
// as lifecycle.Registry.Revoke.
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
// # Shared limits
//
// A Store implements ratelimit.Store for ConnectRate, MaxConns and
// MaxTotalConns (give it with ratelimit.WithStore). A per-subject cap
// across servers is ratelimit.MaxConns with ratelimit.WithKey
// (ratelimit.KeyBySubject) and the Store, after the auth policy. The Store
// has two parts, each with its own owner:
//
//   - Take, the token bucket of ConnectRate, is go-redis/redis_rate (v10),
//     the go-redis project's limiter: GCRA, one atomic Lua script that
//     reads Redis's clock (TIME), so servers whose clocks disagree share
//     one bucket. With rate and burst both set to the limit, GCRA is the
//     bucket ratelimit.Store.Take documents (limit tokens, full at first,
//     refilled at limit per window). Its keys are redis_rate's: "rate:"
//     followed by the Store's prefix and the policy's key; they expire when
//     the bucket is full again (rounded up to a second).
//   - Acquire, the connection slots of MaxConns, is ours, because no such
//     library keeps what a WebSocket needs: a slot held for as long as a
//     connection lives, hours maybe, yet freed when its server dies without
//     releasing it. A slot is a lease in a sorted set per key, scored by its
//     expiry (WithLeaseTTL, 30 s by default), taken and counted by small
//     Lua scripts on Redis's clock. One goroutine per Store, running only
//     while the Store holds leases, extends them every TTL/3; release
//     deletes the lease at once. After a Redis outage longer than the TTL,
//     the connections that survived it are no longer counted.
//
// The Store returns Redis errors to the policies; failing open (the
// default) or closed (ratelimit.FailClosed) is the policies' choice, and
// they log it.
//
// # Options
//
// One Option type serves New and NewStore; each With function says which
// it applies to, and a constructor given one that does not apply panics.
// Their default key prefixes differ (DefaultNodePrefix,
// DefaultStorePrefix), so a Node and a Store share a Redis without sharing
// keys.
package cluster
