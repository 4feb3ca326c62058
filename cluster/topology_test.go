package cluster_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/wstest"
)

// The Redis Cluster and the Sentinel setup are started once, by the first
// test that needs them, and stopped by TestMain. A test that injects a
// fault repairs it before it ends, and every test waits for the topology to
// be healthy before using it.
var topologies struct {
	mu          sync.Mutex
	cluster     *wstest.RedisCluster
	clusterErr  error
	sentinel    *wstest.RedisSentinel
	sentinelErr error
}

// sharedCluster returns the package's Redis Cluster, 3 masters with a
// replica each, once it is healthy.
func sharedCluster(t *testing.T) *wstest.RedisCluster {
	t.Helper()
	topologies.mu.Lock()
	if topologies.cluster == nil && topologies.clusterErr == nil {
		topologies.cluster, topologies.clusterErr = wstest.StartRedisCluster(3, 1)
	}
	c, err := topologies.cluster, topologies.clusterErr
	topologies.mu.Unlock()
	usable(t, "a Redis Cluster", err)
	if err := c.WaitHealthy(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// sharedSentinel returns the package's master, replica and three
// sentinels, once they are healthy.
func sharedSentinel(t *testing.T) *wstest.RedisSentinel {
	t.Helper()
	topologies.mu.Lock()
	if topologies.sentinel == nil && topologies.sentinelErr == nil {
		topologies.sentinel, topologies.sentinelErr = wstest.StartRedisSentinel("wsmw")
	}
	s, err := topologies.sentinel, topologies.sentinelErr
	topologies.mu.Unlock()
	usable(t, "Redis Sentinel", err)
	if err := s.WaitHealthy(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

func usable(t *testing.T, what string, err error) {
	t.Helper()
	switch {
	case errors.Is(err, wstest.ErrRedisMissing):
		wstest.Missing(t, "redis-server and redis-cli", err.Error())
	case err != nil:
		t.Fatalf("start %s: %v", what, err)
	}
}

func stopTopologies() {
	topologies.mu.Lock()
	defer topologies.mu.Unlock()
	if topologies.cluster != nil {
		topologies.cluster.Close()
	}
	if topologies.sentinel != nil {
		topologies.sentinel.Close()
	}
}
