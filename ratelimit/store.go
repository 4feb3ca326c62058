package ratelimit

import (
	"context"
	"time"
)

// Store holds the counters of [ConnectRate] and the connection slots of
// [MaxConns] and [MaxTotalConns]. [MemoryStore] keeps them in this process;
// cluster.NewStore (module github.com/wsmw/wsmw/cluster) shares them
// between servers through Redis. Implementations must be safe for
// concurrent use.
type Store interface {
	// Take removes one token from key's token bucket, which holds at most
	// limit tokens (it starts full) and refills at limit tokens per
	// window.
	Take(ctx context.Context, key string, limit int, window time.Duration) (TakeResult, error)
	// Acquire takes one of max connection slots of key. It returns a
	// release function when it got one, nil when all are held; held is the
	// number held after the call. The caller calls release exactly once
	// when the connection has ended; it must be safe to call from any
	// goroutine and must not block for long.
	Acquire(ctx context.Context, key string, max int) (release func(), held int, err error)
}

// TakeResult is the outcome of [Store.Take].
type TakeResult struct {
	// Allowed reports that a token was taken.
	Allowed bool
	// Remaining is the number of whole tokens left.
	Remaining int
	// RetryAfter is the time until the next token, when not Allowed.
	RetryAfter time.Duration
	// Reset is the time until the bucket is full again.
	Reset time.Duration
}
