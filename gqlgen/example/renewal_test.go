package main

import (
	"net"
	"testing"
	"time"
)

// TestNodeTokenRenewal: with -reconnect-on-token-expiry, the npm
// graphql-ws client whose connectionParams fetch a fresh token (2 s
// tokens) keeps its subscription across the renewals, with graphql-ws's
// own retry wait: each expiry closes with 4403 "Forbidden: token expired",
// the client reconnects with a new token and resubscribes, and ticks
// arrive after every renewal until the client has the ticks it wants.
func TestNodeTokenRenewal(t *testing.T) {
	t.Parallel()
	node(t)
	p := startExample(t, "-reconnect-on-token-expiry")
	const want = 30
	evs := runNode(t, map[string]any{
		"url":           p.url(),
		"tokenUrl":      "http://" + p.addr + "/token?sub=renew&ttl=2s",
		"everyMs":       100,
		"ticks":         want,
		"retryAttempts": 5,
		"retryWaitMs":   "default",
	}, nil)
	if ev, ok := find(evs, "error"); ok {
		t.Fatalf("the subscription failed: %+v; events %+v", ev, evs)
	}
	if n := count(evs, "next"); n != want {
		t.Fatalf("%d ticks, want %d; events %+v", n, want, evs)
	}
	// Every connection but the last ended with the retryable 4403, and
	// ticks came on each one.
	renewals, ticks, lastMs := 0, 0, 0
	var gaps []time.Duration
	for _, ev := range evs {
		switch ev.Event {
		case "next":
			if ticks == 0 && renewals > 0 {
				gaps = append(gaps, time.Duration(ev.Ms-lastMs)*time.Millisecond)
			}
			ticks++
			lastMs = ev.Ms
		case "closed":
			if ev.Code == 1000 {
				continue // the client's own close once it has its ticks
			}
			if ev.Code != 4403 || ev.Reason != "Forbidden: token expired" {
				t.Fatalf("closed %+v, want 4403 Forbidden: token expired; events %+v", ev, evs)
			}
			if ticks == 0 {
				t.Fatalf("a connection ended without a tick; events %+v", evs)
			}
			renewals++
			ticks = 0
		}
	}
	if renewals == 0 || count(evs, "connected") != renewals+1 {
		t.Fatalf("%d renewals and %d connections; events %+v", renewals, count(evs, "connected"), evs)
	}
	t.Logf("%d ticks over %d connections; gaps between the last tick before a renewal and the first after it: %v (graphql-ws's default retry wait, 1.3-4 s)", want, renewals+1, gaps)
}

// TestNodeRestart: with shouldRetry: () => true, the setting the README
// recommends, the graphql-ws client survives a restart of the server that
// takes longer than its retry wait: 1001 at SIGTERM, refused connections
// while nothing listens (which the default shouldRetry would give up on,
// see TestNodeSIGTERM), then a reconnection to the new process, and its
// subscription goes on.
func TestNodeRestart(t *testing.T) {
	t.Parallel()
	node(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := startExample(t, "-addr", addr)
	n := startNode(t, map[string]any{
		"url": p.url(), "token": p.token("phoenix", time.Hour), "everyMs": 50,
		"retryAttempts": 20, "retryWaitMs": 200, "shouldRetryAll": true,
	})
	n.next(t, "ready", 30*time.Second)
	if err := p.sigterm(); err != nil {
		t.Fatalf("example exit: %v", err)
	}
	if ev := n.next(t, "closed", 10*time.Second); ev.Code != 1001 {
		t.Fatalf("closed %+v, want 1001", ev)
	}
	// A retry finds nothing listening: the socket fails (1006), and the
	// client keeps retrying.
	if ev := n.next(t, "closed", 10*time.Second); ev.Code != 1006 {
		t.Fatalf("closed %+v, want the 1006 of a refused connection", ev)
	}
	startExample(t, "-addr", addr)
	n.next(t, "connected", 30*time.Second)
	n.next(t, "next", 10*time.Second)
}
