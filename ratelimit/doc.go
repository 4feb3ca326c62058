// Package ratelimit protects WebSocket endpoints against floods: of
// connects ([ConnectRate]), of open connections ([MaxConns], [MaxTotalConns]), of
// messages on a connection ([MessageRate]), of oversized or malformed
// messages ([MaxMessageSize], [ValidUTF8]) and of the control frames and
// fragments that no message check sees ([LimitFrames]: the per-connection
// budgets of the core's frame guard, on by default).
//
// The policies are net/http middleware in the wsmw style: requests that are
// not WebSocket upgrades pass through untouched. Before the upgrade, a
// refused request gets an HTTP answer that follows go-chi/httprate's
// conventions: 429 Too Many Requests (503 Service Unavailable for the
// global connection cap) with Retry-After, X-RateLimit-Limit,
// X-RateLimit-Remaining and X-RateLimit-Reset (a Unix time). After the
// upgrade, a connection that breaks a limit is closed through the
// connection's close arbiter with the code of the README's table: 1008 "rate
// limit exceeded", 1009 "message too big", 1007 "invalid utf-8", each with
// a sentinel cause ([ErrRateLimited], lifecycle.ErrMessageTooBig,
// [ErrInvalidUTF8]) that OnClose hooks can match with errors.Is;
// middleware.WithClose changes the frame of [MessageRate] and [ValidUTF8].
//
// # Keys and proxies
//
// [ConnectRate] and [MaxConns] count per key; the default key is the client
// ([KeyByIP]): its IPv4 address, or its IPv6 /64, since whoever holds one
// IPv6 address nearly always holds the whole /64 around it. The IP is the
// one chi's ClientIPFromXFF, ClientIPFromHeader or
// ClientIPFromXFFTrustedProxies middleware stored in the request context,
// and otherwise the TCP peer address: no forwarding header is ever trusted
// unless you put one of chi's middleware, configured with your proxies'
// addresses, in front of these policies. [KeyBySubject] counts per
// authenticated subject instead, and refuses (403) a request without one
// rather than silently counting it by IP: put it after the auth policy.
// [MaxConns] keyed by subject counts in-band connections too (the token in
// the first message, auth.WithTokenOptional and Authenticate): their slot
// is taken when their subject is set, and a full cap makes Authenticate
// fail with [ErrTooManyConnections].
//
// # Stores
//
// The counters and connection slots live in a Store, in memory by default:
// a [MemoryStore] per policy, token buckets from golang.org/x/time/rate, with
// idle keys evicted so that memory stays bounded. To share the limits
// between servers, give the policies a Redis store from the module
// github.com/wsmw/wsmw/cluster (cluster.NewStore), which keeps this
// package free of go-redis. When a store fails (Redis unreachable), the
// policies fail open by default: the request goes through and the failure
// is logged with log/slog; [WithFailClosed] answers 503 instead.
//
// Message rates are always counted on the server that holds the
// connection, without any store: the check costs tens of nanoseconds and
// allocates nothing.
package ratelimit
