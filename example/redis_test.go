package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/cluster"
	"github.com/wsmw/wsmw/internal/wstest"
)

// TestRedisFlagForms: -redis takes what go-redis parses, and picks the
// client that fits; its errors and descriptions never hold the password.
func TestRedisFlagForms(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	redis.SetLogger(redisLog{quiet}) // the probes of unreachable nodes fail
	simple := func(addr string, check func(*redis.Options) bool) func(redis.UniversalClient) bool {
		return func(c redis.UniversalClient) bool {
			s, ok := c.(*redis.Client)
			return ok && s.Options().Addr == addr && (check == nil || check(s.Options()))
		}
	}
	clusterOf := func(n int) func(redis.UniversalClient) bool {
		return func(c redis.UniversalClient) bool {
			cc, ok := c.(*redis.ClusterClient)
			return ok && len(cc.Options().Addrs) == n
		}
	}
	for _, tc := range []struct {
		spec string
		want func(redis.UniversalClient) bool
	}{
		{"127.0.0.1:1", simple("127.0.0.1:1", nil)},
		{"redis://:hunter2@127.0.0.1:1/3", simple("127.0.0.1:1", func(o *redis.Options) bool { return o.DB == 3 && o.Password == "hunter2" })},
		{"rediss://127.0.0.1:1", simple("127.0.0.1:1", func(o *redis.Options) bool { return o.TLSConfig != nil })},
		{"127.0.0.1:1, 127.0.0.1:2", clusterOf(2)},
		{"redis://:hunter2@127.0.0.1:1?addr=127.0.0.1:2&addr=127.0.0.1:3", clusterOf(3)},
		// go-redis's failover client is a *redis.Client whose Addr says so.
		{"redis://127.0.0.1:1?master_name=mymaster&addr=127.0.0.1:2", simple("FailoverClient", nil)},
	} {
		c, what, err := openRedis(tc.spec, quiet)
		if err != nil {
			t.Errorf("%s: %v", tc.spec, err)
			continue
		}
		if !tc.want(c) {
			t.Errorf("%s: got a %T (%s)", tc.spec, c, what)
		}
		if strings.Contains(what, "hunter2") {
			t.Errorf("%s: the description %q holds the password", tc.spec, what)
		}
		c.Close()
	}
	for _, bad := range []string{"redis://:hunter2@127.0.0.1:1?bogus=1", "redis://:hunter2@[::1", "redis://:hunter2@127.0.0.1:1?addr=nope", " , "} {
		c, _, err := openRedis(bad, quiet)
		if err == nil {
			c.Close()
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the error %q holds the password", bad, err)
		}
	}
}

// TestExampleOnRedisCluster runs two examples on a 3-master Redis Cluster,
// one given every node and one a single node (found to be a Cluster's): both
// subscribe, -max-conns-per-subject holds for subjects whose keys live on
// each master, and a revocation on one closes the subject's connection on
// the other.
func TestExampleOnRedisCluster(t *testing.T) {
	c, err := wstest.StartRedisCluster(3, 0)
	if errors.Is(err, wstest.ErrRedisMissing) {
		wstest.Missing(t, "redis-server and redis-cli", err.Error())
	} else if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addrs := c.Addrs()
	baseA, logsA := startExample(t, "-redis", strings.Join(addrs, ","), "-max-conns-per-subject", "1")
	baseB, logsB := startExample(t, "-redis", addrs[1], "-max-conns-per-subject", "1")
	for name, logs := range map[string]*wstest.Buffer{"A": logsA, "B": logsB} {
		wstest.WaitFor(t, "example "+name+" subscribed", 10*time.Second, func() bool {
			return strings.Contains(logs.String(), "cluster: listening for revocations")
		})
		if !strings.Contains(logs.String(), `"redis":"cluster via `) {
			t.Fatalf("example %s does not use a Cluster client:\n%s", name, logs)
		}
	}

	admin := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	defer admin.Close()
	ctx := context.Background()
	onMaster := map[string]string{} // master address → a subject whose cap key lives there
	for i := 0; len(onMaster) < 3 && i < 10000; i++ {
		s := "user" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		m, err := admin.MasterForKey(ctx, cluster.DefaultStorePrefix+"conns:sub:"+s)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := onMaster[m.Options().Addr]; !ok {
			onMaster[m.Options().Addr] = s
		}
	}
	if len(onMaster) != 3 {
		t.Fatalf("subjects on %d masters, want 3", len(onMaster))
	}
	bearer := func(base, sub string) http.Header {
		return http.Header{"Authorization": {"Bearer " + getToken(t, base, sub, "1m")}}
	}
	for master, sub := range onMaster {
		ws, _, err := dialWS(t, baseA, "", bearer(baseA, sub))
		if err != nil {
			t.Fatalf("%s (key on %s), first connection: %v", sub, master, err)
		}
		if r := command(t, ws, map[string]string{"type": "hello"}); r["type"] != "hello" {
			t.Fatalf("echo: %v", r)
		}
		_, resp, err := dialWS(t, baseB, "", bearer(baseB, sub))
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("%s (key on %s), second connection on the other server: %v, want 429", sub, master, err)
		}
	}

	roamer, _, err := dialWS(t, baseB, "", bearer(baseB, "roamer"))
	if err != nil {
		t.Fatal(err)
	}
	if status, body := postRevoke(t, baseA, "roamer", nil); status != http.StatusOK {
		t.Fatalf("revoke: %d %s", status, body)
	}
	roamer.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = roamer.ReadMessage()
	if code, reason := closeOf(err); code != websocket.ClosePolicyViolation || reason != "session revoked" {
		t.Fatalf("roamer on the other server: %d %q, want 1008 \"session revoked\"", code, reason)
	}
}
