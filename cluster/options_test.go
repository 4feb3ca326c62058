package cluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/cluster"
	"github.com/wsmw/wsmw/lifecycle"
)

// panics runs f and returns what it panicked with, "" if it did not.
func panics(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg, _ = r.(string)
			if msg == "" {
				msg = "non-string panic"
			}
		}
	}()
	f()
	return ""
}

type foreign struct{}

func (foreign) OptionName() string { return "WithSomething" }

// TestMisplacedOptions: an option given to the constructor it does not
// apply to, a nil one or another package's makes the constructor panic
// with a message that names it; a meaningless value makes the With
// function panic.
func TestMisplacedOptions(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer client.Close()
	reg := lifecycle.NewRegistry()
	newNode := func(opts ...cluster.Option) func() {
		return func() {
			n := cluster.New(client, reg, opts...)
			n.Close()
		}
	}
	newStore := func(opts ...cluster.Option) func() {
		return func() { cluster.NewStore(client, opts...).Close() }
	}
	for _, c := range []struct {
		f    func()
		want string // "" when it must not panic
	}{
		{newNode(cluster.WithLeaseTTL(time.Second)), "cluster: WithLeaseTTL does not apply to New"},
		{newStore(cluster.WithRetention(10)), "cluster: WithRetention does not apply to NewStore"},
		{newStore(cluster.WithClockSkew(0)), "cluster: WithClockSkew does not apply to NewStore"},
		{newStore(cluster.WithHealthCheck(time.Second)), "cluster: WithHealthCheck does not apply to NewStore"},
		{newStore(cluster.WithMaxPending(1)), "cluster: WithMaxPending does not apply to NewStore"},
		{newStore(nil), "cluster: nil Option given to NewStore"},
		{newNode(foreign{}), "cluster: WithSomething (cluster_test.foreign) is not an option of package cluster, given to New"},
		{func() { cluster.WithTimeout(0) }, "cluster: WithTimeout needs a positive duration, got 0s"},
		{func() { cluster.WithLeaseTTL(time.Millisecond) }, "cluster: WithLeaseTTL needs at least 3ms"},
		{func() { cluster.WithClockSkew(-time.Second) }, "cluster: WithClockSkew needs a duration of zero or more"},
		{func() { cluster.WithHealthCheck(-1) }, "cluster: WithHealthCheck needs a positive duration"},
		{func() { cluster.WithRetention(0) }, "cluster: WithRetention needs a positive number"},
		{func() { cluster.WithMaxPending(-1) }, "cluster: WithMaxPending needs a positive number"},
		{func() { cluster.WithLogger(nil) }, "cluster: WithLogger needs a non-nil *slog.Logger"},
		{func() { cluster.New(nil, reg) }, "cluster: New needs a Redis client and a *lifecycle.Registry"},
		{func() { cluster.New(client, nil) }, "cluster: New needs a Redis client and a *lifecycle.Registry"},
		{func() { cluster.NewStore(nil) }, "cluster: NewStore needs a Redis client"},
		// The options that apply to both, on both.
		{newNode(cluster.WithPrefix("a:"), cluster.WithTimeout(time.Second), cluster.WithLogger(testLogger()),
			cluster.WithRetention(10), cluster.WithClockSkew(0), cluster.WithHealthCheck(time.Second), cluster.WithMaxPending(1)), ""},
		{newStore(cluster.WithPrefix("a:"), cluster.WithTimeout(time.Second), cluster.WithLogger(testLogger()),
			cluster.WithLeaseTTL(time.Second)), ""},
	} {
		got := panics(c.f)
		switch {
		case c.want == "" && got != "":
			t.Errorf("unexpected panic: %s", got)
		case c.want != "" && !strings.HasPrefix(got, c.want):
			t.Errorf("panic %q, want %q", got, c.want)
		}
	}
}
