//go:build ignore

// Excluded while the Redis store moves to the cluster module (issue 15):
// this file is on the old API and is being moved with it.

package ratelimit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/middleware"
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

// redisStore returns a RedisStore on its own client of addr.
func redisStore(t testing.TB, addr string, opts ...RedisOption) *RedisStore {
	s := NewRedisStore(redisClient(t, addr), opts...)
	t.Cleanup(func() { s.Close() })
	return s
}

func held(t testing.TB, s *RedisStore, key string) int {
	t.Helper()
	n, err := s.Held(context.Background(), key)
	if err != nil {
		t.Fatalf("Held: %v", err)
	}
	return n
}

func TestRedisTake(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	s := redisStore(t, addr)
	ctx := context.Background()
	for i := range 3 {
		res, err := s.Take(ctx, "k", 3, 3*time.Second)
		if err != nil || !res.Allowed || res.Remaining != 2-i {
			t.Fatalf("take %d: %+v %v", i, res, err)
		}
	}
	res, err := s.Take(ctx, "k", 3, 3*time.Second)
	if err != nil || res.Allowed || res.RetryAfter <= 0 || res.RetryAfter > time.Second || res.Reset > 3*time.Second {
		t.Fatalf("over the burst: %+v %v", res, err)
	}
	ttl, err := s.client.PTTL(ctx, DefaultRedisPrefix+"k").Result()
	if err != nil || ttl <= 0 || ttl > 3*time.Second+time.Millisecond {
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
}

// newRedisServer is a test server whose limits live in the Redis at addr.
func newRedisServer(t *testing.T, addr string, policies ...func(*RedisStore) func(http.Handler) http.Handler) (*testServer, *RedisStore) {
	st := redisStore(t, addr, LeaseTTL(600*time.Millisecond))
	var mws []func(http.Handler) http.Handler
	for _, p := range policies {
		mws = append(mws, p(st))
	}
	return newTestServer(t, nil, mws...), st
}

// Two servers sharing one Redis enforce one connect rate and one
// connection cap.
func TestRedisSharedLimits(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	policies := []func(*RedisStore) func(http.Handler) http.Handler{
		func(st *RedisStore) func(http.Handler) http.Handler {
			return ConnectRate(6, time.Minute, WithStore(st))
		},
		func(st *RedisStore) func(http.Handler) http.Handler { return MaxConns(3, WithStore(st)) },
	}
	a, sa := newRedisServer(t, addr, policies...)
	b, _ := newRedisServer(t, addr, policies...)

	a.mustDial(addr127, nil)
	a.mustDial(addr127, nil)
	cb := b.mustDial(addr127, nil)
	for _, s := range []*testServer{a, b} {
		if c, err := s.dial(addr127, nil); statusOf(c) != http.StatusTooManyRequests {
			t.Fatalf("fourth connection: %v, want 429", err)
		}
	}
	if n := held(t, sa, "conns:127.0.0.1"); n != 3 {
		t.Fatalf("held %d", n)
	}
	cb.WriteClose(1000, "")
	b.nextClose()
	wstest.WaitFor(t, "b's slot to be released", 10*time.Second, func() bool { return held(t, sa, "conns:127.0.0.1") == 2 })
	a.mustDial(addr127, nil) // 6th token, 3rd slot
	if c, err := b.dial(from("127.0.0.2"), nil); err != nil {
		t.Fatalf("127.0.0.2: %v", err)
	} else {
		c.Close()
	}
	// All 6 tokens of 127.0.0.1 are spent across both servers.
	for _, s := range []*testServer{a, b} {
		c, err := s.dial(addr127, nil)
		if statusOf(c) != http.StatusTooManyRequests || c.Response.Header.Get("X-RateLimit-Limit") != "6" {
			t.Fatalf("after 6 connects: %v, want 429 from the connect rate", err)
		}
	}
}

var addr127 = from("127.0.0.1")

// A server killed without releasing its slots loses them within the lease
// TTL; while it lives, its leases are refreshed past the TTL.
func TestRedisKilledServerLosesSlots(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	const ttl = 600 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRedisChildServer$")
	cmd.Env = append(os.Environ(), "WSMW_RL_CHILD_REDIS="+addr, "WSMW_RL_CHILD_TTL="+ttl.String())
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
	st := redisStore(t, addr)
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
	// For three TTLs the leases stay: they are refreshed. The test samples
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

// TestRedisChildServer is the server that TestRedisKilledServerLosesSlots
// runs in a child process and kills.
func TestRedisChildServer(t *testing.T) {
	addr := os.Getenv("WSMW_RL_CHILD_REDIS")
	if addr == "" {
		t.Skip("helper process of TestRedisKilledServerLosesSlots")
	}
	ttl, _ := time.ParseDuration(os.Getenv("WSMW_RL_CHILD_TTL"))
	st := NewRedisStore(redis.NewClient(&redis.Options{Addr: addr}), LeaseTTL(ttl))
	r := chi.NewRouter()
	r.With(MaxConns(3, WithStore(st))).Get("/ws", middleware.Handler(lifecycle.NewRegistry(), conntest.Serve(conntest.Echo)).ServeHTTP)
	srv := httptest.NewServer(r)
	fmt.Printf("URL ws%s/ws\n", strings.TrimPrefix(srv.URL, "http"))
	select {} // until killed
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// With Redis unreachable, the policies fail open by default and closed
// with FailClosed, and say so in the log.
func TestRedisUnreachable(t *testing.T) {
	addr, stop := wstest.StartRedis(t)
	st := redisStore(t, addr)
	if _, err := st.Take(context.Background(), "warm", 1, time.Second); err != nil {
		t.Fatal(err)
	}
	stop()

	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	open := newTestServer(t, nil, ConnectRate(1, time.Hour, WithStore(st), WithLogger(log)), MaxConns(1, WithStore(st), WithLogger(log)))
	for range 3 { // over both limits: they count nothing
		open.mustDial(addr127, nil)
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
	closed := newTestServer(t, nil, ConnectRate(100, time.Hour, WithStore(st), FailClosed(), WithLogger(log),
		OnReject(func(_ *http.Request, status int, cause error) {
			mu.Lock()
			causes = append(causes, cause)
			mu.Unlock()
		})))
	c, err := closed.dial(addr127, nil)
	if statusOf(c) != http.StatusServiceUnavailable || c.Response.Header.Get("Retry-After") != "5" {
		t.Fatalf("fail closed: %v, want 503 with Retry-After", err)
	}
	if !strings.Contains(logs.String(), "failing closed") {
		t.Fatalf("log lacks the fail-closed line:\n%s", logs.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(causes) != 1 || !errors.Is(causes[0], ErrStoreUnavailable) {
		t.Fatalf("OnReject causes %v", causes)
	}
}

// Slots held through Redis return to zero when connections end, and the
// refresher stops with the last one.
func TestRedisSlotsReleased(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	s, st := newRedisServer(t, addr, func(st *RedisStore) func(http.Handler) http.Handler {
		return MaxConns(5, WithStore(st))
	})
	var clients []*wstest.RawClient
	for range 3 {
		clients = append(clients, s.mustDial(addr127, nil))
		s.conn()
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

// Close releases the store's leases at once.
func TestRedisCloseReleases(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	a := redisStore(t, addr)
	b := redisStore(t, addr)
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
