package ratelimit

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/wsmw/wsmw/internal/policy"
)

// A flood of 1,000 upgrades from 127.0.0.1 is cut at the burst with 429,
// Retry-After and X-RateLimit-*, while 127.0.0.2 connects normally.
func TestConnectRateFlood(t *testing.T) {
	var rejected atomic.Int64
	s := newTestServer(t, nil, ConnectRate(60, time.Minute, WithOnReject(func(_ *http.Request, status int, cause error) {
		if status == http.StatusTooManyRequests && cause == ErrConnectRateLimited {
			rejected.Add(1)
		}
	})))
	var ok, limited atomic.Int64
	var bad sync.Map
	var wg sync.WaitGroup
	work := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for range work {
				c, err := s.dial(from("127.0.0.1"), nil)
				switch {
				case err == nil:
					ok.Add(1)
					c.Close()
				case statusOf(c) == http.StatusTooManyRequests:
					limited.Add(1)
					h := c.Response.Header
					if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra < 1 || ra > 60 {
						bad.Store("Retry-After "+h.Get("Retry-After"), true)
					}
					if h.Get("X-RateLimit-Limit") != "60" || h.Get("X-RateLimit-Remaining") != "0" {
						bad.Store("limit headers "+h.Get("X-RateLimit-Limit")+"/"+h.Get("X-RateLimit-Remaining"), true)
					}
					reset, _ := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
					if now := time.Now().Unix(); reset < now || reset > now+61 {
						bad.Store("X-RateLimit-Reset "+h.Get("X-RateLimit-Reset"), true)
					}
				default:
					bad.Store("dial: "+err.Error(), true)
				}
			}
		})
	}
	for range 1000 {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	bad.Range(func(k, _ any) bool { t.Error(k); return true })
	// 60 is the burst; at 1 per second a slow run may earn a few more.
	if n := ok.Load(); n < 60 || n > 70 {
		t.Errorf("%d upgrades allowed, want about 60", n)
	}
	if n := limited.Load(); n != 1000-ok.Load() || rejected.Load() != n {
		t.Errorf("%d limited, %d reported to OnReject, of %d refused", n, rejected.Load(), 1000-ok.Load())
	}
	c := s.mustDial(from("127.0.0.2"), nil)
	if err := c.WriteText("hi"); err != nil {
		t.Fatal(err)
	}
	if f, err := c.ReadFrame(5 * time.Second); err != nil || string(f.Payload) != "hi" {
		t.Fatalf("echo from 127.0.0.2: %q %v", f.Payload, err)
	}
}

// exhaust spends the bucket of the address dialled from.
func exhaust(t *testing.T, s *testServer, ip string, header http.Header, n int) {
	t.Helper()
	for i := range n {
		c, err := s.dial(from(ip), header)
		if err != nil {
			t.Fatalf("upgrade %d from %s: %v", i, ip, err)
		}
		c.Close()
	}
	if c, err := s.dial(from(ip), header); statusOf(c) != http.StatusTooManyRequests {
		t.Fatalf("upgrade %d from %s: %v, want 429", n, ip, err)
	}
}

// A spoofed X-Forwarded-For changes nothing without chi's trusted-proxy
// middleware.
func TestConnectRateIgnoresXFFByDefault(t *testing.T) {
	s := newTestServer(t, nil, ConnectRate(3, time.Minute))
	exhaust(t, s, "127.0.0.1", nil, 3)
	for _, spoof := range []string{"10.0.0.1", "127.0.0.2", "10.0.0.1, 10.0.0.2"} {
		h := http.Header{"X-Forwarded-For": {spoof}, "X-Real-Ip": {spoof}, "True-Client-Ip": {spoof}, "Forwarded": {"for=" + spoof}}
		if c, err := s.dial(from("127.0.0.1"), h); statusOf(c) != http.StatusTooManyRequests {
			t.Errorf("spoofed %q: %v, want 429", spoof, err)
		}
	}
}

// With chi's ClientIPFromXFF trusting 127.0.0.1/32, the forwarded client IP
// is the key; a peer outside the trusted prefix is still keyed by itself.
func TestConnectRateBehindTrustedProxy(t *testing.T) {
	s := newTestServer(t, nil, chimw.ClientIPFromXFF("127.0.0.1/32"), ConnectRate(3, time.Minute))
	a := http.Header{"X-Forwarded-For": {"203.0.113.7"}}
	exhaust(t, s, "127.0.0.1", a, 3)
	b := http.Header{"X-Forwarded-For": {"203.0.113.8"}}
	exhaust(t, s, "127.0.0.1", b, 3)
	// 127.0.0.2 is not a trusted proxy: its XFF is ignored, its own IP is
	// the key, which still has its tokens.
	exhaust(t, s, "127.0.0.2", a, 3)
}

func TestKeys(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	key := func(f KeyFunc, r *http.Request) string {
		t.Helper()
		k, err := f(r)
		if err != nil {
			t.Fatalf("key of %s: %v", r.RemoteAddr, err)
		}
		return k
	}
	for remote, want := range map[string]string{
		"127.0.0.1:5555":                 "127.0.0.1",
		"127.0.0.2:5555":                 "127.0.0.2",
		"[::ffff:10.1.2.3]:80":           "10.1.2.3",
		"[2001:db8::1]:443":              "2001:db8::/64",
		"[2001:db8::ffff:ffff:ffff]:443": "2001:db8::/64",
		"[fe80::1%eth0]:443":             "fe80::/64",
		"[::1]:80":                       "::/64",
		"not an address":                 "not an address",
		"192.0.2.1":                      "192.0.2.1",
		"[2001:db8:1:2:3::]:80":          "2001:db8:1:2::/64",
		"2001:db8:1:3::9":                "2001:db8:1:3::/64",
	} {
		r.RemoteAddr = remote
		r.Header = http.Header{"X-Forwarded-For": {"198.51.100.1"}}
		if got := key(KeyByIP, r); got != want {
			t.Errorf("KeyByIP(%q) = %q, want %q", remote, got, want)
		}
	}
	r.RemoteAddr = "[2001:db8:1:2:3:4:5:6]:80"
	if got := key(KeyByIPPrefix(24, 64), r); got != "2001:db8:1:2::/64" {
		t.Errorf("KeyByIPPrefix v6 = %q", got)
	}
	r.RemoteAddr = "192.0.2.77:80"
	if got := key(KeyByIPPrefix(24, 64), r); got != "192.0.2.0/24" {
		t.Errorf("KeyByIPPrefix v4 = %q", got)
	}
	if got := key(KeyByIPPrefix(32, 128), r); got != "192.0.2.77/32" {
		t.Errorf("KeyByIPPrefix(32, 128) v4 = %q", got)
	}
	// Without a subject, KeyBySubject refuses: it never falls back to the IP.
	if got, err := KeyBySubject(r); !errors.Is(err, ErrNoSubject) || got != "" {
		t.Errorf("KeyBySubject without subject = %q, %v; want ErrNoSubject", got, err)
	}
	if got := key(KeyBySubject, policy.WithSubject(r, "alice")); got != "sub:alice" {
		t.Errorf("KeyBySubject = %q", got)
	}
}

// By default an IPv6 client is counted by its /64: the addresses of one
// /64 share ConnectRate's bucket and MaxConns' slots, another /64 has its
// own, and IPv4 addresses stay apart. The client addresses come through
// chi's ClientIPFromXFF, trusting the test's loopback peer.
func TestDefaultKeyGroupsIPv6By64(t *testing.T) {
	xff := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	t.Run("ConnectRate", func(t *testing.T) {
		s := newTestServer(t, nil, chimw.ClientIPFromXFF("127.0.0.1/32"), ConnectRate(3, time.Minute))
		exhaust(t, s, "127.0.0.1", xff("2001:db8:1:2::1"), 3)
		for _, ip := range []string{"2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"} {
			if c, err := s.dial(from("127.0.0.1"), xff(ip)); statusOf(c) != http.StatusTooManyRequests {
				t.Errorf("%s, in the spent /64: %v, want 429", ip, err)
			}
		}
		exhaust(t, s, "127.0.0.1", xff("2001:db8:1:3::1"), 3)
		exhaust(t, s, "127.0.0.1", xff("192.0.2.1"), 3)
		exhaust(t, s, "127.0.0.1", xff("192.0.2.2"), 3)
	})
	t.Run("MaxConns", func(t *testing.T) {
		s := newTestServer(t, nil, chimw.ClientIPFromXFF("127.0.0.1/32"), MaxConns(2))
		s.mustDial(from("127.0.0.1"), xff("2001:db8:1:2::1"))
		s.mustDial(from("127.0.0.1"), xff("2001:db8:1:2::2"))
		if c, err := s.dial(from("127.0.0.1"), xff("2001:db8:1:2::3")); statusOf(c) != http.StatusTooManyRequests {
			t.Errorf("a third connection from the /64: %v, want 429", err)
		}
		s.mustDial(from("127.0.0.1"), xff("2001:db8:1:3::1"))
	})
}
