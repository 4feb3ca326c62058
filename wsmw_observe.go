package wsmw

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/cluster"
	"github.com/wsmw/wsmw/metrics"
)

// Metrics records Prometheus metrics for WebSocket connections; put its
// Middleware first in front of the WebSocket route.
type Metrics = metrics.Metrics

// MetricsOption configures NewMetrics: metrics.WithCause,
// metrics.WithPeerCodes, metrics.WithSessionBuckets, metrics.WithPingBuckets.
type MetricsOption = metrics.Option

// NewMetrics registers wsmw's collectors (wsmw_connections_active,
// wsmw_connections_total, wsmw_closes_total{code,initiator,cause},
// wsmw_rejections_total{status}, wsmw_session_duration_seconds,
// wsmw_ping_rtt_seconds, messages in and out, bytes in) on reg.
func NewMetrics(reg prometheus.Registerer, opts ...MetricsOption) (*Metrics, error) {
	return metrics.New(reg, opts...)
}

// ClusterNode makes revocation cluster-wide over Redis pub/sub.
type ClusterNode = cluster.Node

// ClusterOption configures NewClusterNode: cluster.WithPrefix,
// cluster.WithTimeout, cluster.WithRetention, cluster.WithClockSkew,
// cluster.WithHealthCheck, cluster.WithMaxPending, cluster.WithLogger.
type ClusterOption = cluster.Option

// ErrRevocationPending is returned by ClusterNode.Revoke when Redis is
// unreachable: the revocation was applied locally and is queued for the
// other servers.
var ErrRevocationPending = cluster.ErrPending

// NewClusterNode starts applying the cluster's revocations to reg through
// client; ClusterNode.Revoke closes a subject's connections on every
// server. Close it on shutdown.
func NewClusterNode(client redis.UniversalClient, reg *Registry, opts ...ClusterOption) *ClusterNode {
	return cluster.New(client, reg, opts...)
}

// MaxConnsPerSubject allows max open connections per authenticated subject
// across every server sharing store (a ratelimit.RedisStore); 429 beyond.
// Put it after the auth policy.
func MaxConnsPerSubject(store RateLimitStore, max int, opts ...RateLimitOption) func(http.Handler) http.Handler {
	return cluster.MaxConnsPerSubject(store, max, opts...)
}
