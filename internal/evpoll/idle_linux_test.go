//go:build linux

package evpoll

import (
	"fmt"
	"net"
	"runtime"
	"testing"
)

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
			before := runtime.NumGoroutine()
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
			after := runtime.NumGoroutine()
			t.Logf("%d idle registered connections: %d goroutines before, %d after; %+v", n, before, after, p.Stats())
			if after != before || p.Stats().Registered != n {
				t.Fatalf("goroutines %d -> %d with %d idle connections", before, after, n)
			}
		})
	}
}
