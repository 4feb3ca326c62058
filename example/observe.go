package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw"
	"github.com/wsmw/wsmw/cluster"
	"github.com/wsmw/wsmw/metrics"
	"github.com/wsmw/wsmw/ratelimit"
)

// observePart is the example's observability and multi-node support
// (issue 9): Prometheus metrics at GET /metrics (the metrics middleware
// outermost on /ws, so it sees every refusal), and with -redis, cluster-wide
// revocation over Redis pub/sub and per-subject connection caps shared by
// every server on that Redis. Flag: -max-conns-per-subject.
type observePart struct {
	maxPerSubject int

	log   *slog.Logger
	prom  *prometheus.Registry
	node  *cluster.Node         // nil without -redis
	store *cluster.Store        // nil without -redis; the limits share it
	rdb   redis.UniversalClient // nil without -redis
}

func (p *observePart) flags(fs *flag.FlagSet) {
	fs.IntVar(&p.maxPerSubject, "max-conns-per-subject", 0,
		"open connections allowed per authenticated subject, across every server on -redis (429 beyond); 0 = off")
}

func (p *observePart) setup(a *app, r chi.Router, ws *[]func(http.Handler) http.Handler) error {
	if p.maxPerSubject < 0 {
		return fmt.Errorf("-max-conns-per-subject must not be negative")
	}
	p.log = a.log
	p.prom = prometheus.NewRegistry()
	p.prom.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := metrics.New(p.prom)
	if err != nil {
		return err
	}
	*ws = append(*ws, m.Middleware)
	r.Get("/metrics", promhttp.HandlerFor(p.prom, promhttp.HandlerOpts{ErrorLog: slogPrinter{a}}).ServeHTTP)

	if a.redisAddr == "" {
		return nil
	}
	// With go-redis's defaults: the cluster module bounds its own calls
	// and recovers from failovers without tuning.
	redis.SetLogger(redisLog{a.log})
	rdb, what, err := openRedis(a.redisAddr, a.log)
	if err != nil {
		return err
	}
	p.rdb = rdb
	p.node = cluster.New(p.rdb, a.reg, cluster.WithLogger(a.log))
	p.store = cluster.NewStore(p.rdb, cluster.WithLogger(a.log))
	a.log.Info("cluster", "redis", what, "node", p.node.ID(), "max_conns_per_subject", p.maxPerSubject)
	return nil
}

func (p *observePart) banner(w io.Writer, addr string) {
	fmt.Fprintf(w, "Prometheus metrics: http://%s/metrics\n", addr)
	if p.node != nil {
		fmt.Fprintf(w, "Cluster node %s: revocations reach every server on the same -redis\n", p.node.ID())
	}
}

// subjectCap is the per-subject connection cap, nil when off: on the
// shared Redis store with -redis, per server otherwise. It must run after
// the auth policy, which sets the subject.
func (p *observePart) subjectCap() func(http.Handler) http.Handler {
	if p.maxPerSubject <= 0 {
		return nil
	}
	var store ratelimit.Store = ratelimit.NewMemoryStore()
	if p.store != nil {
		store = p.store
	}
	return wsmw.MaxConns(p.maxPerSubject, wsmw.WithKey(wsmw.KeyBySubject), wsmw.WithStore(store), wsmw.WithLogger(p.log))
}

// revoke closes subject's connections: on every server with -redis (a
// Redis outage queues it for the others, and logs it), on this one
// otherwise. It returns how many were closed here.
func (p *observePart) revoke(ctx context.Context, reg *wsmw.Registry, subject string) int {
	if p.node == nil {
		return reg.Revoke(subject)
	}
	n, err := p.node.Revoke(ctx, subject)
	if err != nil {
		p.log.Warn("revocation not yet published to the other servers", "err", err)
	}
	return n
}

// close stops the cluster node and the store, and closes the Redis client.
func (p *observePart) close() {
	if p.node != nil {
		p.node.Close()
		p.store.Close()
		p.rdb.Close()
	}
}

// observe returns the example's observePart.
func (a *app) observe() *observePart {
	for _, part := range a.parts {
		if o, ok := part.(*observePart); ok {
			return o
		}
	}
	return &observePart{}
}

// revokeSubject closes subject's connections, cluster-wide with -redis,
// and returns how many were closed on this server. /admin/revoke uses it.
func (a *app) revokeSubject(ctx context.Context, subject string) int {
	return a.observe().revoke(ctx, a.reg, subject)
}

// subjectPolicies returns the policies that need the authenticated
// subject (the per-subject cap); the auth part appends them right after
// its JWT policy.
func (a *app) subjectPolicies() []func(http.Handler) http.Handler {
	if c := a.observe().subjectCap(); c != nil {
		return []func(http.Handler) http.Handler{c}
	}
	return nil
}

// slogPrinter adapts the app's logger to promhttp's error log.
type slogPrinter struct{ a *app }

func (s slogPrinter) Println(v ...any) { s.a.log.Error("metrics: " + fmt.Sprint(v...)) }
