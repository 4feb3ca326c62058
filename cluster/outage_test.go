package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsmw/wsmw/cluster"
	"github.com/wsmw/wsmw/internal/wstest"
)

// TestRedisOutage: stopping redis-server mid-run leaves every connection
// up; a revocation made during the outage reaches the other node once
// Redis is back, and live revocation works again.
func TestRedisOutage(t *testing.T) {
	addr, stop := wstest.StartRedis(t)
	opts := []cluster.Option{cluster.WithTimeout(300 * time.Millisecond)}
	a := startServer(t, addr, serverConfig{capPerSubject: 2, opts: opts})
	b := startServer(t, addr, serverConfig{capPerSubject: 2, opts: opts})
	wstest.WaitFor(t, "both nodes subscribed", 5*time.Second, func() bool { return a.node.Subscribed() && b.node.Subscribed() })

	alice := b.dial("alice")
	carol := b.dial("carol")
	dave := a.dial("dave")

	stop()
	wstest.WaitFor(t, "node B notices the outage", 5*time.Second, func() bool { return !b.node.Subscribed() })
	for _, c := range []*wstest.RawClient{alice, carol, dave} {
		alive(t, c)
	}
	// The caps fail open: a new connection is still accepted.
	erin := a.dial("erin")

	start := time.Now()
	n, err := a.node.Revoke(context.Background(), "alice")
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Revoke blocked %v during the outage", took)
	}
	if n != 0 || !errors.Is(err, cluster.ErrPending) {
		t.Fatalf("Revoke during outage = %d, %v; want 0, ErrPending", n, err)
	}
	alive(t, alice) // nothing can reach node B yet

	wstest.RestartRedis(t, addr)
	took := expectRevoked(t, alice, 10*time.Second)
	t.Logf("revocation made during the outage applied %v after Redis restarted", took)
	wstest.WaitFor(t, "both nodes subscribed again", 5*time.Second, func() bool { return a.node.Subscribed() && b.node.Subscribed() })
	if a.node.Pending() != 0 {
		t.Fatalf("%d revocations still pending", a.node.Pending())
	}

	start = time.Now()
	if _, err := a.node.Revoke(context.Background(), "carol"); err != nil {
		t.Fatal(err)
	}
	expectRevoked(t, carol, time.Second)
	t.Logf("live revocation after the restart took %v", time.Since(start))
	alive(t, dave)
	alive(t, erin)
}

// TestSubscriptionKilled: when Redis drops a node's subscription, the node
// subscribes again and still applies what was revoked meanwhile.
func TestSubscriptionKilled(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	a := startServer(t, addr, serverConfig{})
	b := startServer(t, addr, serverConfig{})
	wstest.WaitFor(t, "both nodes subscribed", 5*time.Second, func() bool { return a.node.Subscribed() && b.node.Subscribed() })
	alice := b.dial("alice")

	admin := newClient(addr)
	defer admin.Close()
	if err := admin.Do(context.Background(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	// Revoke at once, most likely before node B has subscribed again: it
	// learns of it from the stream. Node A's own subscription was killed
	// too, so it may queue the revocation until it is back.
	if _, err := a.node.Revoke(context.Background(), "alice"); err != nil && !errors.Is(err, cluster.ErrPending) {
		t.Fatal(err)
	}
	expectRevoked(t, alice, 5*time.Second)
	wstest.WaitFor(t, "node B subscribed again", 5*time.Second, subscribed(b))
}
