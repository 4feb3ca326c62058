package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsmw/wsmw/internal/observe"
	"github.com/wsmw/wsmw/lifecycle"
)

// Default histogram buckets, in seconds.
var (
	// DefaultSessionBuckets spans 100 ms to a day.
	DefaultSessionBuckets = []float64{0.1, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400}
	// DefaultPingBuckets spans 0.5 ms to 10 s.
	DefaultPingBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
)

// Metrics holds the collectors. Make one with New per Prometheus registry and
// put its Middleware in front of the WebSocket route.
type Metrics struct {
	cfg config

	active     prometheus.Gauge
	total      prometheus.Counter
	closes     *prometheus.CounterVec
	rejections *prometheus.CounterVec
	sessions   prometheus.Histogram
	pingRTT    prometheus.Histogram
	msgsIn     prometheus.Counter
	bytesIn    prometheus.Counter
	out        *outbound

	// Method values bound once, so that a new connection costs no closure.
	attachFn  func(*lifecycle.Conn) error
	countInFn lifecycle.ReadCheck
	rttFn     func(time.Duration)
	closedFn  func(*lifecycle.Conn, lifecycle.CloseInfo)
}

// Option configures New.
type Option func(*config)

type config struct {
	causes         []observe.NamedCause
	peerCodes      map[lifecycle.StatusCode]bool
	sessionBuckets []float64
	pingBuckets    []float64
}

// WithCause names one more cause for the cause label: a close whose
// CloseInfo.Cause matches err (errors.Is) is counted as name. Causes added
// this way are checked before the built-in ones, in the order given. Keep
// the set of names small: each one is a label value.
func WithCause(err error, name string) Option {
	return func(c *config) { c.causes = append(c.causes, observe.NamedCause{Err: err, Name: name}) }
}

// WithPeerCodes keeps the given application codes (3000-4999) exact in the
// code label when a peer sends them; other peer codes in that range are
// counted as "3xxx" or "4xxx", so that peers cannot create label values.
func WithPeerCodes(codes ...lifecycle.StatusCode) Option {
	return func(c *config) {
		for _, code := range codes {
			c.peerCodes[code] = true
		}
	}
}

// WithSessionBuckets sets the buckets of wsmw_session_duration_seconds.
func WithSessionBuckets(b []float64) Option { return func(c *config) { c.sessionBuckets = b } }

// WithPingBuckets sets the buckets of wsmw_ping_rtt_seconds.
func WithPingBuckets(b []float64) Option { return func(c *config) { c.pingBuckets = b } }

// New makes the collectors and registers them on reg (for example a
// private [prometheus.NewRegistry](), or [prometheus.DefaultRegisterer]). It
// fails when a collector cannot be registered, such as when New already
// ran on reg.
func New(reg prometheus.Registerer, opts ...Option) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: nil prometheus.Registerer")
	}
	cfg := config{
		peerCodes:      make(map[lifecycle.StatusCode]bool),
		sessionBuckets: DefaultSessionBuckets,
		pingBuckets:    DefaultPingBuckets,
	}
	for _, o := range opts {
		o(&cfg)
	}
	m := &Metrics{
		cfg: cfg,
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wsmw_connections_active",
			Help: "WebSocket connections open now.",
		}),
		total: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wsmw_connections_total",
			Help: "WebSocket connections opened (upgrades that succeeded).",
		}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wsmw_closes_total",
			Help: "WebSocket connections ended, by close code, initiator (local, peer, abnormal) and cause.",
		}, []string{"code", "initiator", "cause"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wsmw_rejections_total",
			Help: "WebSocket upgrade requests answered with an HTTP status instead of an upgrade.",
		}, []string{"status"}),
		sessions: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wsmw_session_duration_seconds",
			Help:    "Time from the upgrade until the connection ended.",
			Buckets: cfg.sessionBuckets,
		}),
		pingRTT: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wsmw_ping_rtt_seconds",
			Help:    "Round-trip time of heartbeat pings, from the ping written to its pong read.",
			Buckets: cfg.pingBuckets,
		}),
		msgsIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wsmw_messages_in_total",
			Help: "Data messages read from peers.",
		}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wsmw_bytes_in_total",
			Help: "Payload bytes of the data messages read from peers.",
		}),
		out: newOutbound(),
	}
	m.attachFn, m.countInFn, m.rttFn, m.closedFn = m.attach, m.countIn, m.observeRTT, m.closed
	collectors := []prometheus.Collector{
		m.active, m.total, m.closes, m.rejections, m.sessions, m.pingRTT, m.msgsIn, m.bytesIn, m.out,
	}
	for i, c := range collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range collectors[:i] {
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	// Show the usual refusals at zero from the start.
	for _, status := range []string{"401", "403", "429", "503"} {
		m.rejections.WithLabelValues(status)
	}
	return m, nil
}

// ObservePingRTT records one heartbeat round trip. The middleware feeds it
// on its own when the heartbeat policy reports round trips (see
// Middleware); call it yourself for pings you time elsewhere.
func (m *Metrics) ObservePingRTT(d time.Duration) { m.pingRTT.Observe(d.Seconds()) }
