//go:build linux

package evpoll

import (
	"fmt"
	"net"
	"runtime"
	"testing"

	"github.com/wsmw/wsmw/internal/wstest"
)

// packageGoroutines counts the goroutines this package started (the
// poller loop, the pool's watchdog and workers), by who made them: one that
// has not run yet shows a wrapper.
func packageGoroutines() int {
	n := wstest.CountGoroutines(
		"created by github.com/wsmw/wsmw/internal/evpoll.New",
		"created by github.com/wsmw/wsmw/internal/evpoll.(*Pool).spawnLocked")
	return n[0] + n[1]
}

// Registering idle connections starts no goroutine: the count is the same
// with 0, 1,000 or 10,000 of them.
func TestIdleConnectionsAddNoGoroutines(t *testing.T) {
	for _, n := range []int{1000, 10000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			if n > 1000 && testing.Short() {
				t.Skip("10,000 connections")
			}
			p, _ := newPoller(t)
			ln := listen(t)
			before, ours := runtime.NumGoroutine(), packageGoroutines()
			servers := make([]*net.TCPConn, 0, n)
			// Unregister and close the server ends first, the client ends
			// (or the child) after.
			closeServers := func() {
				for _, s := range servers {
					p.Remove(rawOf(t, s))
					s.Close()
				}
			}
			var clients []net.Conn
			if n > 1000 {
				// Client ends in a child process: each process stays under
				// its descriptor limit.
				ready, stop := dialChild(t, "dial", ln.Addr().String(), n)
				defer stop()
				defer closeServers()
				for range n {
					s, err := ln.Accept()
					if err != nil {
						t.Fatal(err)
					}
					servers = append(servers, s.(*net.TCPConn))
				}
				if err := recv(t, ready, wait, "the child"); err != nil {
					t.Fatal(err)
				}
			} else {
				for range n {
					c, s := pair(t, ln)
					clients = append(clients, c)
					servers = append(servers, s)
				}
				defer func() {
					for _, c := range clients {
						c.Close()
					}
				}()
				defer closeServers()
			}
			for i, s := range servers {
				if err := p.Add(rawOf(t, s), uint64(i)); err != nil {
					t.Fatal(err)
				}
			}
			after, oursAfter := runtime.NumGoroutine(), packageGoroutines()
			t.Logf("%d idle registered connections: goroutines %d before, %d after (the package's own: %d, %d); %+v",
				n, before, after, ours, oursAfter, p.Stats())
			// Other tests' goroutines may still be winding down: the
			// process total may fall, never rise.
			if oursAfter != ours || after > before || p.Stats().Registered != n {
				t.Fatalf("goroutines %d -> %d (the package's %d -> %d) with %d idle connections", before, after, ours, oursAfter, n)
			}
		})
	}
}
