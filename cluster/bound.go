package cluster

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// go-redis bounds a read by the client's ReadTimeout (5 s by default, and
// again for each retry), not by the context's deadline, unless the client
// was made with ContextTimeoutEnabled. Against a frozen Redis (a stopped
// process, a host that stopped answering) a call would then outlast the
// bounds this package documents. bounded keeps them: it runs the call in a
// goroutine of its own and returns at the deadline, while the call ends in
// the background within the client's own timeouts, or when the client is
// closed. A client made with ContextTimeoutEnabled needs no goroutine.

// honoursContext reports whether c's reads and writes end at the context's
// deadline.
func honoursContext(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// bounded runs call with a context that ends after d (or with ctx), and
// returns by then whatever call does. When it returns before call does,
// late, if not nil, gets call's results once call returns: what the caller
// no longer waits for (a lease taken too late) is undone there.
func bounded[T any](ctx context.Context, honours bool, d time.Duration, call func(context.Context) (T, error), late func(T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	if honours {
		defer cancel()
		return call(ctx)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	var state atomic.Int32 // 0 running, 1 answered, 2 abandoned
	go func() {
		defer cancel()
		v, err := call(ctx)
		if state.CompareAndSwap(0, 1) {
			done <- result{v, err}
		} else if late != nil {
			late(v, err)
		}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		if !state.CompareAndSwap(0, 2) {
			r := <-done // answered at the deadline
			return r.v, r.err
		}
		cancel()
		var zero T
		if err := ctx.Err(); err == context.DeadlineExceeded {
			return zero, fmt.Errorf("cluster: no answer from Redis within %v: %w", d, err)
		}
		return zero, ctx.Err()
	}
}
