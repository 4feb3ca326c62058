package ratelimit

import "github.com/redis/go-redis/v9"

// The Lua scripts of RedisStore. Each runs atomically in Redis and reads
// Redis's own clock (TIME), so that servers whose clocks disagree still
// share one limit. Times are in milliseconds.

// takeScript: one token from the bucket KEYS[1] of ARGV[1] tokens refilled
// over ARGV[2] ms. The hash holds the fractional token count and the time
// it was computed; it expires when the bucket would be full again, which
// is the same as absent. Returns {allowed, whole tokens left, ms until the
// next token, ms until full}.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local per = tonumber(ARGV[2]) / limit
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then
  tokens = limit
  ts = now
end
if now > ts then
  tokens = math.min(limit, tokens + (now - ts) / per)
  ts = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
local full = math.ceil((limit - tokens) * per)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], full + 1)
local retry = 0
if allowed == 0 then
  retry = math.ceil((1 - tokens) * per)
end
return {allowed, math.floor(tokens), retry, full}
`)

// acquireScript: a lease ARGV[3] in the sorted set KEYS[1] (member: lease
// ID, score: expiry), if fewer than ARGV[1] unexpired leases are held;
// ARGV[2] is the lease TTL. Every lease expires by now+TTL, so the set may
// too. Returns {1 if acquired, leases held}.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[1]) then
  return {0, n}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return {1, n + 1}
`)

// refreshScript: extend the leases ARGV[2..] of KEYS[1] that still exist to
// now+ARGV[1]. A lease that has been removed (released, or expired and
// swept) is not brought back.
var refreshScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i])
end
if redis.call('ZCARD', KEYS[1]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 0
`)

// heldScript: the number of unexpired leases of KEYS[1].
var heldScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
`)
