package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/ratelimit"
)

// redisClient returns a client of addr, closed when the test ends; it
// fails fast when Redis is down.
func redisClient(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:        addr,
		MaxRetries:  -1,
		DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

// newTestStore returns a Store on its own client of addr.
func newTestStore(t testing.TB, addr string, opts ...Option) *Store {
	s := NewStore(redisClient(t, addr), opts...)
	t.Cleanup(func() { s.Close() })
	return s
}

func held(t testing.TB, s *Store, key string) int {
	t.Helper()
	n, err := s.Held(context.Background(), key)
	if err != nil {
		t.Fatalf("Held: %v", err)
	}
	return n
}

// limitServer is one server with rate limit policies in front of an echo
// at /ws, on real TCP.
type limitServer struct {
	t      testing.TB
	url    string
	reg    *lifecycle.Registry
	closed chan lifecycle.CloseInfo
}

func newLimitServer(t testing.TB, policies ...func(http.Handler) http.Handler) *limitServer {
	t.Helper()
	s := &limitServer{t: t, reg: lifecycle.NewRegistry(), closed: make(chan lifecycle.CloseInfo, 64)}
	var h http.Handler = middleware.Handler(s.reg, conntest.Serve(conntest.Echo))
	h = middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { s.closed <- info })(h)
	for i := len(policies) - 1; i >= 0; i-- {
		h = policies[i](h)
	}
	s.url = wstest.Server(t, h) + "/ws"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.reg.Shutdown(ctx)
	})
	return s
}

// dial opens a raw client from local with no header; it is closed when the
// test ends.
func (s *limitServer) dial(local net.Addr) (*wstest.RawClient, error) {
	c, err := wstest.DialRawFrom(local, s.url, nil)
	if c != nil && err == nil {
		s.t.Cleanup(func() { c.Close() })
	}
	return c, err
}

func (s *limitServer) mustDial(local net.Addr) *wstest.RawClient {
	s.t.Helper()
	c, err := s.dial(local)
	if err != nil {
		s.t.Fatalf("dial: %v", err)
	}
	return c
}

// nextClose waits for a connection's OnClose.
func (s *limitServer) nextClose() lifecycle.CloseInfo {
	s.t.Helper()
	select {
	case info := <-s.closed:
		return info
	case <-time.After(10 * time.Second):
		s.t.Fatal("no OnClose within 10s")
	}
	return lifecycle.CloseInfo{}
}

func from(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip)} }

var addr127 = from("127.0.0.1")

func statusOf(c *wstest.RawClient) int {
	if c == nil || c.Response == nil {
		return 0
	}
	return c.Response.StatusCode
}

// TestStoreTake checks the bucket ratelimit.Store.Take documents: limit
// tokens, full at first, refilled at limit per window, with Remaining,
// RetryAfter and Reset; idle buckets expire.
func TestStoreTake(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	s := newTestStore(t, addr)
	ctx := context.Background()
	for i := range 3 {
		res, err := s.Take(ctx, "k", 3, 3*time.Second)
		if err != nil || !res.Allowed || res.Remaining != 2-i || res.RetryAfter != 0 {
			t.Fatalf("take %d: %+v %v", i, res, err)
		}
		if res.Reset <= time.Duration(i)*time.Second || res.Reset > time.Duration(i+1)*time.Second {
			t.Fatalf("take %d: reset %v, want about %ds", i, res.Reset, i+1)
		}
	}
	res, err := s.Take(ctx, "k", 3, 3*time.Second)
	if err != nil || res.Allowed || res.Remaining != 0 || res.RetryAfter <= 0 || res.RetryAfter > time.Second ||
		res.Reset <= 2*time.Second || res.Reset > 3*time.Second {
		t.Fatalf("over the burst: %+v %v", res, err)
	}
	// redis_rate's key; its TTL is the reset time rounded up to a second.
	ttl, err := s.client.PTTL(ctx, "rate:"+DefaultStorePrefix+"k").Result()
	if err != nil || ttl <= 0 || ttl > 3*time.Second {
		t.Fatalf("bucket TTL %v %v: idle buckets must expire", ttl, err)
	}
	// Refill: 1 token per 100 ms.
	res, _ = s.Take(ctx, "fast", 1, 100*time.Millisecond)
	if !res.Allowed {
		t.Fatal("first take refused")
	}
	wstest.WaitFor(t, "a token to refill", 10*time.Second, func() bool {
		res, _ := s.Take(ctx, "fast", 1, 100*time.Millisecond)
		return res.Allowed
	})
	// Zero means no limit, without a call to Redis.
	if res, err := s.Take(ctx, "off", 0, time.Second); err != nil || res.Allowed {
		t.Fatalf("limit 0: %+v %v", res, err)
	}
}

// TestStoreTakeCountsDown checks that Remaining counts the burst down one
// by one for limits whose refill interval is not a round number (GCRA works
// in floating-point seconds), and that the whole burst is allowed.
func TestStoreTakeCountsDown(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	s := newTestStore(t, addr)
	ctx := context.Background()
	for _, l := range []struct {
		limit  int
		window time.Duration
	}{{7, time.Minute}, {60, 7 * time.Second}, {3, 300 * time.Millisecond}, {100, 3 * time.Hour}, {1, time.Hour}} {
		key := fmt.Sprintf("count:%d:%v", l.limit, l.window)
		for i := range l.limit {
			res, err := s.Take(ctx, key, l.limit, l.window)
			if err != nil || !res.Allowed || res.Remaining != l.limit-1-i {
				t.Fatalf("%d per %v, take %d: %+v %v", l.limit, l.window, i, res, err)
			}
		}
		res, err := s.Take(ctx, key, l.limit, l.window)
		interval := l.window / time.Duration(l.limit)
		if err != nil || res.Allowed || res.RetryAfter > interval || res.RetryAfter < interval-time.Second {
			t.Fatalf("%d per %v over the burst: %+v %v, want a retry within %v", l.limit, l.window, res, err, interval)
		}
	}
}

// TestStoreTakeAtomic: servers that take from one bucket at once never
// overshoot it, and take all of it.
func TestStoreTakeAtomic(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	const servers, each, limit = 8, 40, 100
	var allowed sync.WaitGroup
	got := make(chan int, servers)
	for range servers {
		s := newTestStore(t, addr)
		allowed.Go(func() {
			n := 0
			for range each {
				res, err := s.Take(context.Background(), "shared", limit, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Allowed {
					n++
				}
			}
			got <- n
		})
	}
	allowed.Wait()
	close(got)
	total := 0
	for n := range got {
		total += n
	}
	if total != limit {
		t.Fatalf("%d servers took %d tokens of a bucket of %d", servers, total, limit)
	}
}

// Two servers sharing one Redis enforce one connect rate and one
// connection cap.
func TestStoreSharedLimits(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	server := func() (*limitServer, *Store) {
		st := newTestStore(t, addr, WithLeaseTTL(600*time.Millisecond))
		return newLimitServer(t, ratelimit.ConnectRate(6, time.Minute, ratelimit.WithStore(st)), ratelimit.MaxConns(3, ratelimit.WithStore(st))), st
	}
	a, sa := server()
	b, _ := server()

	a.mustDial(addr127)
	a.mustDial(addr127)
	cb := b.mustDial(addr127)
	for _, s := range []*limitServer{a, b} {
		if c, err := s.dial(addr127); statusOf(c) != http.StatusTooManyRequests {
			t.Fatalf("fourth connection: %v, want 429", err)
		}
	}
	if n := held(t, sa, "conns:127.0.0.1"); n != 3 {
		t.Fatalf("held %d", n)
	}
	cb.WriteClose(1000, "")
	b.nextClose()
	wstest.WaitFor(t, "b's slot to be released", 10*time.Second, func() bool { return held(t, sa, "conns:127.0.0.1") == 2 })
	a.mustDial(addr127) // 6th token, 3rd slot
	if c, err := b.dial(from("127.0.0.2")); err != nil {
		t.Fatalf("127.0.0.2: %v", err)
	} else {
		c.Close()
	}
	// All 6 tokens of 127.0.0.1 are spent across both servers.
	for _, s := range []*limitServer{a, b} {
		c, err := s.dial(addr127)
		if statusOf(c) != http.StatusTooManyRequests || c.Response.Header.Get("X-RateLimit-Limit") != "6" {
			t.Fatalf("after 6 connects: %v, want 429 from the connect rate", err)
		}
	}
}

// A server killed without releasing its slots loses them within the lease
// TTL; while it lives, its leases are extended past the TTL.
func TestStoreKilledServerLosesSlots(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	const ttl = 600 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStoreChildServer$")
	cmd.Env = append(os.Environ(), "WSMW_CLUSTER_CHILD_REDIS="+addr, "WSMW_CLUSTER_CHILD_TTL="+ttl.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	lines := bufio.NewScanner(out)
	var url string
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "URL "); ok {
			url = u
			break
		}
	}
	go func() {
		for lines.Scan() { // drain the child's output
		}
		cmd.Wait()
		close(exited)
	}()
	if url == "" {
		t.Fatal("child server printed no URL")
	}
	st := newTestStore(t, addr)
	var clients []*wstest.RawClient
	for range 3 {
		c, err := wstest.DialRawFrom(addr127, url, nil)
		if err != nil {
			t.Fatalf("dial child: %v", err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	if c, err := wstest.DialRawFrom(addr127, url, nil); statusOf(c) != http.StatusTooManyRequests {
		t.Fatalf("fourth: %v, want 429", err)
	}
	// For three TTLs the leases stay: they are extended. The test samples
	// them over that window; the passing of time is what it checks.
	window := time.After(3 * ttl)
	sample := time.NewTicker(ttl / 12)
	defer sample.Stop()
	for sampling := true; sampling; {
		select {
		case <-sample.C:
		case <-window:
			sampling = false
		}
		if n := held(t, st, "conns:127.0.0.1"); n != 3 {
			t.Fatalf("held %d while the server lives", n)
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no release
		t.Fatal(err)
	}
	<-exited
	killed := time.Now()
	for _, c := range clients {
		c.WaitEOF(5 * time.Second)
	}
	wstest.WaitFor(t, "the dead server's slots to expire", 10*time.Second, func() bool { return held(t, st, "conns:127.0.0.1") == 0 })
	if d := time.Since(killed); d > ttl+ttl/2 {
		t.Fatalf("slots expired %v after the kill, want within the TTL %v", d, ttl)
	} else {
		t.Logf("slots expired %v after the kill (TTL %v)", d, ttl)
	}
}

// TestStoreChildServer is the server that TestStoreKilledServerLosesSlots
// runs in a child process and kills.
func TestStoreChildServer(t *testing.T) {
	addr := os.Getenv("WSMW_CLUSTER_CHILD_REDIS")
	if addr == "" {
		t.Skip("helper process of TestStoreKilledServerLosesSlots")
	}
	ttl, _ := time.ParseDuration(os.Getenv("WSMW_CLUSTER_CHILD_TTL"))
	st := NewStore(redis.NewClient(&redis.Options{Addr: addr}), WithLeaseTTL(ttl))
	ws := ratelimit.MaxConns(3, ratelimit.WithStore(st))(middleware.Handler(lifecycle.NewRegistry(), conntest.Serve(conntest.Echo)))
	srv := httptest.NewServer(ws)
	fmt.Printf("URL ws%s/ws\n", strings.TrimPrefix(srv.URL, "http"))
	select {} // until killed
}

// With Redis unreachable, the policies fail open by default and closed
// with FailClosed, and say so in the log: the Store only returns the error.
func TestStoreRedisUnreachable(t *testing.T) {
	addr, stop := wstest.StartRedis(t)
	st := newTestStore(t, addr)
	if _, err := st.Take(context.Background(), "warm", 1, time.Second); err != nil {
		t.Fatal(err)
	}
	stop()

	var logs wstest.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	open := newLimitServer(t,
		ratelimit.ConnectRate(1, time.Hour, ratelimit.WithStore(st), middleware.WithLogger(log)),
		ratelimit.MaxConns(1, ratelimit.WithStore(st), middleware.WithLogger(log)))
	for range 3 { // over both limits: they count nothing
		open.mustDial(addr127)
	}
	for _, want := range []string{"policy=ConnectRate", "policy=MaxConns", "failing open"} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "policy=ConnectRate"); n != 1 {
		t.Fatalf("%d log lines for ConnectRate's 3 failures, want 1 (throttled)", n)
	}

	var causes []error
	var mu sync.Mutex
	closed := newLimitServer(t, ratelimit.ConnectRate(100, time.Hour, ratelimit.WithStore(st), ratelimit.WithFailClosed(), middleware.WithLogger(log),
		ratelimit.WithOnReject(func(_ *http.Request, status int, cause error) {
			mu.Lock()
			causes = append(causes, cause)
			mu.Unlock()
		})))
	c, err := closed.dial(addr127)
	if statusOf(c) != http.StatusServiceUnavailable || c.Response.Header.Get("Retry-After") != "5" {
		t.Fatalf("fail closed: %v, want 503 with Retry-After", err)
	}
	if !strings.Contains(logs.String(), "failing closed") {
		t.Fatalf("log lacks the fail-closed line:\n%s", logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(causes) != 1 || !errors.Is(causes[0], ratelimit.ErrStoreUnavailable) {
		t.Fatalf("OnReject causes %v", causes)
	}
}

// Slots held through Redis return to zero when connections end, however
// they end, and the refresher stops with the last one.
func TestStoreSlotsReleased(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	st := newTestStore(t, addr, WithLeaseTTL(600*time.Millisecond))
	s := newLimitServer(t, ratelimit.MaxConns(5, ratelimit.WithStore(st)))
	var clients []*wstest.RawClient
	for range 3 {
		clients = append(clients, s.mustDial(addr127))
	}
	wstest.WaitFor(t, "three connections registered", 5*time.Second, func() bool { return s.reg.Len() == 3 })
	if n := held(t, st, "conns:127.0.0.1"); n != 3 {
		t.Fatalf("held %d", n)
	}
	clients[0].WriteClose(1000, "")
	clients[1].Reset()
	c := clients[2]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		if _, _, err := c.ReadUntilClose(5 * time.Second); err == nil {
			c.WriteClose(1001, "")
		}
	}()
	s.reg.Shutdown(ctx)
	wstest.WaitFor(t, "slots to return to zero", 10*time.Second, func() bool { return held(t, st, "conns:127.0.0.1") == 0 })
	st.mu.Lock()
	running, n := st.stop != nil, st.n
	st.mu.Unlock()
	if running || n != 0 {
		t.Fatalf("refresher running %v with %d leases", running, n)
	}
}

// A release function releases once, however often it is called.
func TestStoreReleaseOnce(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	st := newTestStore(t, addr)
	ctx := context.Background()
	first, _, err := st.Acquire(ctx, "k", 5)
	if first == nil || err != nil {
		t.Fatalf("acquire: %v", err)
	}
	second, n, err := st.Acquire(ctx, "k", 5)
	if second == nil || err != nil || n != 2 {
		t.Fatalf("acquire: %d %v", n, err)
	}
	var calls sync.WaitGroup
	for range 4 {
		calls.Go(first)
	}
	calls.Wait()
	st.mu.Lock()
	running, tracked := st.stop != nil, st.n
	st.mu.Unlock()
	if n := held(t, st, "k"); n != 1 || tracked != 1 || !running {
		t.Fatalf("after releasing one lease four times: held %d, tracked %d, refresher running %v; want 1, 1, true", n, tracked, running)
	}
	second()
	if n := held(t, st, "k"); n != 0 {
		t.Fatalf("held %d after both releases", n)
	}
}

// Close releases the Store's leases at once.
func TestStoreCloseReleases(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	a := newTestStore(t, addr)
	b := newTestStore(t, addr)
	ctx := context.Background()
	for range 2 {
		if rel, _, err := a.Acquire(ctx, "k", 5); rel == nil || err != nil {
			t.Fatalf("acquire: %v", err)
		}
	}
	if n := held(t, b, "k"); n != 2 {
		t.Fatalf("held %d", n)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := held(t, b, "k"); n != 0 {
		t.Fatalf("held %d after Close", n)
	}
	if _, _, err := a.Acquire(ctx, "k", 5); !errors.Is(err, ErrStoreClosed) {
		t.Fatalf("Acquire after Close: %v", err)
	}
}

// A Node and a Store on one Redis keep their keys apart by default, and
// WithPrefix moves either.
func TestKeySpaces(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	client := redisClient(t, addr)
	ctx := context.Background()
	st := NewStore(client)
	defer st.Close()
	moved := NewStore(client, WithPrefix("app:"))
	defer moved.Close()
	for _, s := range []*Store{st, moved} {
		if rel, _, err := s.Acquire(ctx, "conns:x", 1); err != nil || rel == nil {
			t.Fatalf("acquire: %v", err)
		}
		if _, err := s.Take(ctx, "connect:x", 1, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	reg := lifecycle.NewRegistry()
	node := New(client, reg, WithLogger(slog.New(slog.DiscardHandler)))
	defer node.Close()
	wstest.WaitFor(t, "node subscribed", 5*time.Second, node.Subscribed)
	if _, err := node.Revoke(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	keys, err := client.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		DefaultStorePrefix + "conns:x":             true,
		"rate:" + DefaultStorePrefix + "connect:x": true,
		"app:conns:x":                     true,
		"rate:app:connect:x":              true,
		DefaultNodePrefix + "revocations": true,
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected key %q", k)
		}
		delete(want, k)
	}
	for k := range want {
		t.Errorf("missing key %q", k)
	}
}

// A Store whose leases Redis lost (FLUSHALL stands for a restart without
// persistence) creates them again at its next refresh, and at once when an
// Acquire finds fewer leases than it holds, rather than a refresh interval
// later.
func TestStoreRecreatesLostLeases(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	st := newTestStore(t, addr)
	ctx := context.Background()
	for range 2 {
		if rel, _, err := st.Acquire(ctx, "k", 5); rel == nil || err != nil {
			t.Fatalf("acquire: %v", err)
		}
	}
	if err := st.client.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if n := held(t, st, "k"); n != 0 {
		t.Fatalf("held %d after FLUSHALL", n)
	}
	lost := time.Now()
	if rel, n, err := st.Acquire(ctx, "k", 5); rel == nil || err != nil || n != 1 {
		t.Fatalf("acquire after the loss: %d, %v", n, err)
	}
	wstest.WaitFor(t, "the lost leases created again", DefaultLeaseTTL/6, func() bool { return held(t, st, "k") == 3 })
	t.Logf("lost leases held again %v after the Acquire that noticed (refresh interval %v)", time.Since(lost).Round(time.Millisecond), DefaultLeaseTTL/3)
	// A released lease stays released: the refresh does not bring it back.
	rel, _, err := st.Acquire(ctx, "k", 5)
	if err != nil || rel == nil {
		t.Fatal(err)
	}
	rel()
	if err := st.refresh(); err != nil {
		t.Fatal(err)
	}
	if n := held(t, st, "k"); n != 3 {
		t.Fatalf("held %d after a release and a refresh, want 3", n)
	}
}

// A lease released while a refresh is in flight is deleted again when the
// refresh ends, even if the refresh wrote it back after the release.
func TestStoreReleaseDuringRefresh(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	st := newTestStore(t, addr)
	ctx := context.Background()
	rel, _, err := st.Acquire(ctx, "k", 5)
	if err != nil || rel == nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.refreshing = true // a refresh in flight, which will write the lease back
	st.mu.Unlock()
	rel()
	if n := held(t, st, "k"); n != 0 {
		t.Fatalf("held %d after release", n)
	}
	st.mu.Lock()
	if len(st.released) != 1 {
		t.Fatalf("%d leases noted as released during the refresh, want 1", len(st.released))
	}
	l := st.released[0]
	st.mu.Unlock()
	// The refresh in flight writes it back, as it does when its script
	// runs after the release's ZREM.
	if _, err := refreshScript.Run(ctx, st.client, []string{l.key}, millis(st.ttl), l.id).Result(); err != nil {
		t.Fatal(err)
	}
	if n := held(t, st, "k"); n != 1 {
		t.Fatalf("held %d after the refresh wrote the lease back", n)
	}
	st.refreshed()
	if n := held(t, st, "k"); n != 0 {
		t.Fatalf("held %d after the refresh ended: the released lease came back", n)
	}
}
