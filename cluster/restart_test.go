package cluster_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/cluster"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

// defaultClient returns a client of addr with go-redis's defaults.
func defaultClient(addr string) func() redis.UniversalClient {
	return func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: addr}) }
}

// lateNode starts a Node on a Registry of its own, as a server started
// now would, and returns the Registry.
func lateNode(t *testing.T, client redis.UniversalClient) *lifecycle.Registry {
	t.Helper()
	reg := lifecycle.NewRegistry()
	node := cluster.New(client, reg, cluster.WithLogger(testLogger()))
	t.Cleanup(func() {
		node.Close()
		client.Close()
	})
	return reg
}

func revokedAt(reg *lifecycle.Registry, subject string) func() bool {
	return func() bool {
		_, ok := reg.RevokedAt(subject)
		return ok
	}
}

// TestRestartWithoutPersistence restarts a redis-server that keeps no data
// (no RDB, no AOF), with go-redis's and the library's defaults. The leases
// of the open connections must be held again within one refresh interval
// (so the cap holds again), and a revocation made before the restart must
// be enforced by a server started after it: the Nodes that knew it publish
// it again.
func TestRestartWithoutPersistence(t *testing.T) {
	addr, stop := wstest.StartRedis(t)
	a := startServer(t, "", serverConfig{capPerSubject: 2, client: defaultClient(addr)})
	b := startServer(t, "", serverConfig{capPerSubject: 2, client: defaultClient(addr)})
	wstest.WaitFor(t, "both nodes subscribed", 10*time.Second, func() bool { return a.node.Subscribed() && b.node.Subscribed() })

	mallory := b.dial("mallory")
	if _, err := a.node.Revoke(context.Background(), "mallory"); err != nil {
		t.Fatal(err)
	}
	expectRevoked(t, mallory, 5*time.Second)
	a.dial("alice")
	b.dial("alice")
	const key = "conns:sub:alice"
	if n, err := a.store.Held(context.Background(), key); err != nil || n != 2 {
		t.Fatalf("held %d, %v before the restart", n, err)
	}

	stop()
	wstest.RestartRedis(t, addr)
	restarted := time.Now()
	probe := redis.NewClient(&redis.Options{Addr: addr})
	defer probe.Close()
	if n, err := probe.Exists(context.Background(), cluster.DefaultNodePrefix+"revocations", cluster.DefaultStorePrefix+key).Result(); err != nil || n != 0 {
		t.Fatalf("after the restart %d of the keys exist (%v): the test needs Redis to have lost them", n, err)
	}

	// A server started now learns mallory's revocation once a Node that
	// knew it has published it again.
	late := lateNode(t, redis.NewClient(&redis.Options{Addr: addr}))
	wstest.WaitFor(t, "a server started after the restart to enforce the revocation", 10*time.Second, revokedAt(late, "mallory"))
	republished := time.Since(restarted)

	wstest.WaitFor(t, "alice's leases held again", cluster.DefaultLeaseTTL/3+3*time.Second, func() bool {
		n, err := a.store.Held(context.Background(), key)
		return err == nil && n == 2
	})
	t.Logf("after the restart: revocation enforced by a new server at +%v, leases held again at +%v (refresh interval %v)",
		republished.Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond), cluster.DefaultLeaseTTL/3)
	for _, s := range []*server{a, b} {
		if c, err := s.tryDial("alice"); err == nil || c == nil || c.Response == nil || c.Response.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third connection of alice after the restart: %v, want 429", err)
		}
	}
}

// TestRepublishWhenStreamBehind: after a failover to a replica that had not
// received the stream's last entries, a Node that had seen them publishes
// again the revocations they carried.
func TestRepublishWhenStreamBehind(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	a := startServer(t, addr, serverConfig{})
	wstest.WaitFor(t, "node subscribed", 5*time.Second, subscribed(a))
	for _, s := range []string{"early", "lost"} {
		if _, err := a.node.Revoke(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	// Lose the last entry, as a replica that had not received it would.
	admin := newClient(addr)
	defer admin.Close()
	ctx := context.Background()
	last, err := admin.XRevRangeN(ctx, cluster.DefaultNodePrefix+"revocations", "+", "-", 1).Result()
	if err != nil || len(last) != 1 || last[0].Values["s"] != "lost" {
		t.Fatalf("last entry %v, %v", last, err)
	}
	if err := admin.XDel(ctx, cluster.DefaultNodePrefix+"revocations", last[0].ID).Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	late := lateNode(t, newClient(addr))
	wstest.WaitFor(t, "the lost revocation published again", 10*time.Second, revokedAt(late, "lost"))
	wstest.WaitFor(t, "the other revocation still enforced", 5*time.Second, revokedAt(late, "early"))
	n, err := admin.XLen(ctx, cluster.DefaultNodePrefix+"revocations").Result()
	if err != nil || n != 2 {
		t.Fatalf("stream length %d, %v: want the kept entry and the lost one published again, and nothing more", n, err)
	}
}

// TestRepublishAfterLossSeenLive: Redis loses the stream while a Node's
// subscription lives (FLUSHALL), the Node that made a revocation is gone,
// and a new Node publishes first into the new stream. The Node that only
// received the revocation as a message notices the new epoch on the next
// message and publishes it again, so a server started later enforces it.
func TestRepublishAfterLossSeenLive(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	maker := startServer(t, addr, serverConfig{})
	b := startServer(t, addr, serverConfig{})
	wstest.WaitFor(t, "both nodes subscribed", 5*time.Second, func() bool { return maker.node.Subscribed() && b.node.Subscribed() })
	if _, err := maker.node.Revoke(context.Background(), "mallory"); err != nil {
		t.Fatal(err)
	}
	wstest.WaitFor(t, "node B learns the revocation", 5*time.Second, revokedAt(b.reg, "mallory"))
	maker.node.Close()

	admin := newClient(addr)
	defer admin.Close()
	if err := admin.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	newcomer := startServer(t, addr, serverConfig{})
	wstest.WaitFor(t, "the new node subscribed", 5*time.Second, subscribed(newcomer))
	if _, err := newcomer.node.Revoke(context.Background(), "trudy"); err != nil {
		t.Fatal(err)
	}
	late := lateNode(t, newClient(addr))
	wstest.WaitFor(t, "a server started later to enforce the revocation made before the loss", 10*time.Second, revokedAt(late, "mallory"))
	wstest.WaitFor(t, "and the one made after", 5*time.Second, revokedAt(late, "trudy"))
}
