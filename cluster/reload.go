package cluster

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// reloadEvery is the least time between two slot map reloads asked by one
// Node or Store.
const reloadEvery = 250 * time.Millisecond

// reloader makes a ClusterClient reload its slot map after a call failed
// in a way a failover explains (a refused connection, a timeout,
// CLUSTERDOWN, …). go-redis reloads it by itself only on MOVED, ASK or
// READONLY replies, or every ClusterStateReloadInterval (60 s by default):
// after a master dies it keeps dialing the dead address until then, while
// its replica has been serving the slots for seconds. ReloadState only
// marks the map stale; go-redis reloads it in the background, so failed
// does not wait.
//
// A client of one node that gets MOVED is pointed at a Redis Cluster with
// the wrong kind of client: failed says so in the log, once.
type reloader struct {
	cc     *redis.ClusterClient // nil for a client that is not a cluster's
	log    *slog.Logger
	last   atomic.Int64 // Unix ns of the last reload asked
	warned atomic.Bool  // MOVED was logged
}

func newReloader(c redis.UniversalClient, log *slog.Logger) reloader {
	cc, _ := c.(*redis.ClusterClient)
	return reloader{cc: cc, log: log}
}

// failed asks for a reload if err may mean that a node is gone, at most
// once every reloadEvery.
func (r *reloader) failed(err error) {
	if r.cc == nil {
		if redis.HasErrorPrefix(err, "MOVED") && r.warned.CompareAndSwap(false, true) {
			r.log.Error("cluster: Redis answered MOVED: it is a Redis Cluster, and this client talks to one node only; "+
				"give a *redis.ClusterClient (redis.NewClusterClient, or redis.NewUniversalClient with the nodes' addresses)", "err", err)
		}
		return
	}
	if !nodeFailure(err) {
		return
	}
	now := time.Now().UnixNano()
	last := r.last.Load()
	if now-last < int64(reloadEvery) || !r.last.CompareAndSwap(last, now) {
		return
	}
	r.cc.ReloadState(context.Background())
}

// nodeFailure reports whether err may come from a node that failed or from
// a cluster that is moving slots: anything but an answer of Redis that says
// otherwise, a missing key, or a closed client or cancelled call.
func nodeFailure(err error) bool {
	switch {
	case err == nil, errors.Is(err, redis.Nil), errors.Is(err, redis.ErrClosed), errors.Is(err, context.Canceled):
		return false
	}
	var re redis.Error
	if !errors.As(err, &re) {
		return true // network errors, timeouts, a pool waiting for dead connections
	}
	for _, p := range []string{"CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "LOADING", "READONLY"} {
		if redis.HasErrorPrefix(err, p) {
			return true
		}
	}
	return false
}
