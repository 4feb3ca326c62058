package cluster_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/wsmw/wsmw/cluster"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

// TestRevokeAcrossNodes: revoking alice on node A closes her connection on
// node B within 1 s, and no one else's.
func TestRevokeAcrossNodes(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	a := startServer(t, addr, serverConfig{})
	b := startServer(t, addr, serverConfig{})
	wstest.WaitFor(t, "both nodes subscribed", 5*time.Second, func() bool { return a.node.Subscribed() && b.node.Subscribed() })

	aliceB := b.dial("alice")
	aliceA := a.dial("alice")
	bob := b.dial("bob")

	start := time.Now()
	n, err := a.node.Revoke(context.Background(), "alice")
	if err != nil || n != 1 {
		t.Fatalf("Revoke = %d, %v; want 1 local, nil", n, err)
	}
	expectRevoked(t, aliceA, time.Second)
	expectRevoked(t, aliceB, time.Second-time.Since(start))
	t.Logf("alice closed on node B %v after Revoke on node A", time.Since(start))
	alive(t, bob)
	if got := b.node.Pending() + a.node.Pending(); got != 0 {
		t.Fatalf("%d revocations pending with Redis up", got)
	}
}

// TestCapAcrossNodes: a per-subject cap of 2 holds across both nodes.
func TestCapAcrossNodes(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	a := startServer(t, addr, serverConfig{capPerSubject: 2})
	b := startServer(t, addr, serverConfig{capPerSubject: 2})

	first := a.dial("alice")
	b.dial("alice")
	for _, s := range []*server{a, b} {
		c, err := s.tryDial("alice")
		if err == nil {
			t.Fatal("a third connection of alice was accepted")
		}
		if c == nil || c.Response == nil || c.Response.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third connection: %v, want 429", err)
		}
	}
	b.dial("bob") // others are not affected

	// Once one of alice's connections ends, she may open another one, on
	// either node.
	first.WriteClose(1000, "")
	first.ReadUntilClose(5 * time.Second)
	<-a.ended
	wstest.WaitFor(t, "alice's slot released", 5*time.Second, func() bool {
		c, err := b.tryDial("alice")
		if err == nil {
			c.WriteClose(1000, "")
		}
		return err == nil
	})
}

// TestCatchUpOnStart: a Node that starts (or subscribes) after a
// revocation was made applies it from the stream.
func TestCatchUpOnStart(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	a := startServer(t, addr, serverConfig{})
	wstest.WaitFor(t, "node A subscribed", 5*time.Second, subscribed(a))
	// Node B's connections exist before B listens: simulate it with a
	// Registry whose Node starts after the revocation.
	b := startServer(t, "127.0.0.1:1", serverConfig{}) // no Redis there
	alice := b.dial("alice")
	if _, err := a.node.Revoke(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	late := cluster.New(newClient(addr), b.reg, cluster.WithLogger(testLogger()))
	defer late.Close()
	expectRevoked(t, alice, 5*time.Second)
}

// TestRevokeWhileRedisDown: with Redis down, Revoke applies locally at
// once and says the rest is pending.
func TestRevokeWhileRedisDown(t *testing.T) {
	a := startServer(t, "127.0.0.1:1", serverConfig{opts: []cluster.Option{cluster.WithTimeout(200 * time.Millisecond)}})
	alice := a.dial("alice")
	start := time.Now()
	n, err := a.node.Revoke(context.Background(), "alice")
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Revoke took %v with Redis down", took)
	}
	if n != 1 || !errors.Is(err, cluster.ErrPending) {
		t.Fatalf("Revoke = %d, %v; want 1 and ErrPending", n, err)
	}
	expectRevoked(t, alice, time.Second)
	if a.node.Pending() != 1 {
		t.Fatalf("pending = %d, want 1", a.node.Pending())
	}
}

// TestRevocationsHoldOnEveryNode: a revocation is remembered by every node
// (RevokedAt, which the auth policy reads), including one that
// starts after it was made, with the time it was made, not when it arrived.
func TestRevocationsHoldOnEveryNode(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	a := startServer(t, addr, serverConfig{})
	b := startServer(t, addr, serverConfig{})
	wstest.WaitFor(t, "both nodes subscribed", 5*time.Second, func() bool { return a.node.Subscribed() && b.node.Subscribed() })
	before := time.Now()
	if _, err := a.node.Revoke(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	check := func(name string, reg *lifecycle.Registry) {
		t.Helper()
		wstest.WaitFor(t, name+" remembers the revocation", 5*time.Second, func() bool {
			_, ok := reg.RevokedAt("alice")
			return ok
		})
		at, _ := reg.RevokedAt("alice")
		if at.Before(before.Truncate(time.Millisecond)) || at.After(after) {
			t.Fatalf("%s: revoked at %v, made between %v and %v", name, at, before, after)
		}
		if _, ok := reg.RevokedAt("bob"); ok {
			t.Fatalf("%s: bob revoked", name)
		}
	}
	check("node A", a.reg)
	check("node B", b.reg)
	late := lifecycle.NewRegistry()
	client := newClient(addr)
	defer client.Close()
	node := cluster.New(client, late, cluster.WithLogger(testLogger()))
	defer node.Close()
	check("a node started after the revocation", late)
}
