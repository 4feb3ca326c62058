package wstest

import (
	"net"
	"os/exec"
	"strconv"
	"testing"
)

// RestartRedis starts a private redis-server again on addr (as returned by
// [StartRedis], after its stop), so that clients reconnect to the same
// address; the data does not survive. It returns the new server's stop
// function, which also runs when the test ends.
func RestartRedis(t testing.TB, addr string) (stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Missing(t, "redis-server", "not found on PATH")
		return func() {}
	}
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("wstest: bad redis address %q: %v", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("wstest: bad redis port %q: %v", p, err)
	}
	_, stop, err = startRedisOn(t, bin, port)
	if err != nil {
		t.Fatalf("wstest: restart redis-server on %s: %v", addr, err)
	}
	return stop
}
