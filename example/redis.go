package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisUsage is -redis's help text.
const redisUsage = "Redis for shared limits and cluster revocation, in the forms go-redis parses: " +
	"host:port or a redis:// or rediss:// URL (redis.ParseURL); " +
	"a Redis Cluster as a comma-separated list of its nodes, or a URL naming more nodes with addr=host:port (redis.ParseClusterURL); " +
	"a master watched by Sentinel as the URL of a sentinel with master_name=NAME, and more sentinels with addr= (redis.ParseFailoverURL). " +
	"One address of a Cluster node is found to be one at startup. Empty = in-memory"

// openRedis makes the go-redis client that -redis names, through
// go-redis's own parsing: a URL goes to ParseFailoverURL when it names a
// master_name, to ParseClusterURL when it names more nodes (addr=), to
// ParseURL otherwise; a list of addresses becomes UniversalOptions.Addrs,
// for which go-redis makes a ClusterClient when there are several. One
// node's address, as a URL or not, is asked whether it is a Cluster node
// (INFO cluster), since a one-node client of a Cluster would get MOVED for
// most keys. It returns the client and what it talks to, for the log:
// never the address as given, which may hold a password.
func openRedis(spec string, log *slog.Logger) (redis.UniversalClient, string, error) {
	if !strings.Contains(spec, "://") {
		addrs := splitList(spec)
		if len(addrs) == 0 {
			return nil, "", errors.New("-redis: no address")
		}
		opt := &redis.UniversalOptions{Addrs: addrs}
		if len(addrs) == 1 && isClusterNode(opt.Simple(), log) {
			opt.IsClusterMode = true
		}
		return redis.NewUniversalClient(opt), describe(opt.IsClusterMode || len(addrs) > 1, addrs), nil
	}
	u, err := url.Parse(spec)
	if err != nil {
		return nil, "", fmt.Errorf("-redis: %w", urlless(err))
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		opt, err := redis.ParseFailoverURL(spec)
		if err != nil {
			return nil, "", fmt.Errorf("-redis: %w", urlless(err))
		}
		return redis.NewFailoverClient(opt), fmt.Sprintf("sentinel master %q via %s", opt.MasterName, strings.Join(opt.SentinelAddrs, ",")), nil
	case q.Has("addr"):
		opt, err := redis.ParseClusterURL(spec)
		if err != nil {
			return nil, "", fmt.Errorf("-redis: %w", urlless(err))
		}
		return redis.NewClusterClient(opt), describe(true, opt.Addrs), nil
	}
	opt, err := redis.ParseURL(spec)
	if err != nil {
		return nil, "", fmt.Errorf("-redis: %w", urlless(err))
	}
	probe, _ := redis.ParseURL(spec)
	if !isClusterNode(probe, log) {
		return redis.NewClient(opt), describe(false, []string{opt.Addr}), nil
	}
	copt, err := redis.ParseClusterURL(spec)
	if err != nil {
		return nil, "", fmt.Errorf("-redis: a Cluster node: %w", urlless(err))
	}
	return redis.NewClusterClient(copt), describe(true, copt.Addrs), nil
}

// isClusterNode asks the node of opt (a copy the probe may change) whether
// it runs in cluster mode, once. An unreachable node is taken for a single
// one, with a warning.
func isClusterNode(opt *redis.Options, log *slog.Logger) bool {
	opt.MaxRetries, opt.DialerRetries = -1, 1
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	info, err := c.Info(ctx, "cluster").Result()
	if err != nil {
		log.Warn("redis unreachable at startup: taken for a single node (list two or more nodes of a Cluster); "+
			"revocation will catch up and the limits fail open until it is back", "err", err)
		return false
	}
	for _, line := range strings.Split(info, "\n") {
		if strings.TrimSpace(line) == "cluster_enabled:1" {
			return true
		}
	}
	return false
}

func describe(cluster bool, addrs []string) string {
	if cluster {
		return "cluster via " + strings.Join(addrs, ",")
	}
	return "single node " + strings.Join(addrs, ",")
}

// urlless strips the URL from url.Parse's errors: it may hold a password.
func urlless(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// redisLog sends go-redis's own log lines (failed dials, sentinel
// switches) to the example's slog logger at debug level, so that
// -log-format json stays JSON; the cluster module and the rate limit
// policies log what matters themselves, throttled.
type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, fmt.Sprintf(format, v...))
}
