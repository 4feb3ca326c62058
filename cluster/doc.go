// Package cluster holds everything wsmw does with Redis (go-redis/v9): a
// Node makes revocation cluster-wide, and a Store shares the rate limits of
// package ratelimit between servers. It is a module of its own
// (github.com/wsmw/wsmw/cluster), so that wsmw's core never depends on
// go-redis. Both take any go-redis client: a *redis.Client, a
// *redis.ClusterClient (Redis Cluster) or a failover client (Sentinel),
// with go-redis's defaults; see "Failures" for what that gives.
//
// # Revocation
//
// [Node.Revoke] on any server's Node closes the subject's connections on
// every server that shares one Redis, each with the same 1008 "session
// revoked" as lifecycle.Registry.Revoke.
//
// A revocation is recorded in a Redis stream and announced on a pub/sub
// channel in one atomic script. Every Node listens on the channel; when its
// subscription is (re)established it first reads the stream from the last
// entry it saw, so revocations made while it was cut off are applied when it
// reconnects. A revocation made while Redis is unreachable is applied
// locally at once, queued, and published when Redis is back. A Node started
// later reads the stream back over the Registry's revocation TTL, so it
// refuses the revoked subjects' older tokens too.
//
// A revocation closes the connections that were open when it was made (by
// the clock of the server that made it, plus [WithClockSkew]), so applying an
// old one late never closes a connection opened after it.
//
// Redis trouble never blocks or closes local connections: the Node works
// in its own goroutines, every Redis call it makes returns within
// [WithTimeout] (1 s) whatever the client's own timeouts, and connection
// paths never wait on Redis.
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
//     while the Store holds leases, extends them every TTL/3 and creates
//     again those Redis lost; release deletes the lease at once.
//
// Every Store call returns within the Store's timeout ([WithTimeout], 1 s).
// The Store returns Redis errors to the policies; failing open (the
// default) or closed (ratelimit.WithFailClosed) is the policies' choice,
// and they log it. A connection admitted while failing open holds no lease:
// it is never counted, even once Redis is back.
//
// # Failures
//
// With go-redis's defaults and this package's, set Redis to notice a
// failure quickly (cluster-node-timeout 2000, Sentinel's
// down-after-milliseconds 2000): with Redis's own defaults (15 s, 30 s) no
// client can recover sooner than Redis does. Then:
//
//   - Redis unreachable, any topology: connections stay up. Revocations are
//     applied locally and queued (Revoke returns ErrPending), then published
//     when Redis is back; the other servers apply them late, to the
//     connections opened before them. The limits whose keys cannot be
//     reached fail open (or closed), each upgrade waiting at most the
//     Store's timeout.
//   - A Redis Cluster master dies: go-redis refreshes its slot map only on
//     MOVED or every 60 s, so after each failed call the Node and the Store
//     make a ClusterClient reload it (at most every 250 ms): the Store
//     works again within about half a second of the replica's promotion
//     (which comes some 3–4 s after the kill), the subscriptions within
//     about a second. A frozen master can add up to twice the client's
//     ReadTimeout (5 s by default): go-redis may ask it for the slot map
//     and wait that long. Until then the limits whose keys live on
//     that shard fail open: every such upgrade is admitted, uncounted.
//   - A Sentinel master dies or freezes: the Node pings its subscription
//     after a second of silence (WithHealthCheck) and subscribes again when
//     the answer does not come within another; an attempt to subscribe is
//     given up after two health checks, so one made to a frozen master does
//     not hold the Node past the switch. [Node.Subscribed] is false from
//     then until the Node listens to the new master, within about a second
//     of the sentinels' switch, killed or frozen. A Revoke made meanwhile
//     returns within its timeout with ErrPending and is published once the
//     new master answers.
//   - Redis loses data. Without persistence a restart empties everything;
//     with it (appendonly yes, appendfsync everysec) about the last second
//     of writes can be lost, and a failover loses what the replica had not
//     received. Leases: each Store creates its leases again at its next
//     refresh (within TTL/3), or at once when an Acquire finds fewer than
//     it holds; until then the cap counts only the connections admitted
//     since. Connect-rate buckets start full again. Revocations: every
//     stream entry and message carries the stream's epoch, and a Node that
//     finds the stream emptied (another epoch, or none) or missing entries
//     it has seen publishes again the revocations it knows to be in force
//     and the stream lacks. A server started afterwards learns them
//     once one Node that knew them has done so; revocations that no running
//     Node knew are lost unless Redis persisted them.
//
// # Options
//
// One Option type serves New and [NewStore]; each With function says which
// it applies to, and a constructor given one that does not apply panics.
// Their default key prefixes differ ([DefaultNodePrefix],
// [DefaultStorePrefix]), so a Node and a Store share a Redis without sharing
// keys.
package cluster
