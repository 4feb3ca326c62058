package otel

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Histogram boundaries, in seconds: advice to the SDK, which a View
// overrides. The same as the metrics module's.
var (
	sessionBuckets = []float64{0.1, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400}
	pingBuckets    = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
)

// instruments are the metrics, the same facts as the metrics module's
// Prometheus collectors. Data messages and their bytes are read from the
// connections' own counters when the SDK collects, so that the message
// path costs two atomic additions (inbound) or nothing more (outbound).
type instruments struct {
	active     metric.Int64UpDownCounter
	opened     metric.Int64Counter
	closed     metric.Int64Counter
	rejections metric.Int64Counter
	sessions   metric.Float64Histogram
	rtt        metric.Float64Histogram
	messages   metric.Int64ObservableCounter
	bytes      metric.Int64ObservableCounter

	receive, transmit metric.ObserveOption // network.io.direction, made once

	// live holds the open connections whose messages are counted; the
	// counts of those that ended are in ended. One mutex, so that a
	// collection never sees a connection in neither place.
	mu    sync.Mutex
	live  map[*conn]struct{}
	ended counts
}

// counts are a connection's data messages and their payload bytes.
type counts struct{ msgsIn, bytesIn, msgsOut, bytesOut uint64 }

func (c *counts) add(o counts) {
	c.msgsIn += o.msgsIn
	c.bytesIn += o.bytesIn
	c.msgsOut += o.msgsOut
	c.bytesOut += o.bytesOut
}

func newInstruments(m metric.Meter) (*instruments, error) {
	in := &instruments{
		live:     make(map[*conn]struct{}),
		receive:  metric.WithAttributeSet(attribute.NewSet(semconv.NetworkIODirectionReceive)),
		transmit: metric.WithAttributeSet(attribute.NewSet(semconv.NetworkIODirectionTransmit)),
	}
	var errs [8]error
	in.active, errs[0] = m.Int64UpDownCounter("wsmw.connections.active",
		metric.WithUnit("{connection}"), metric.WithDescription("WebSocket connections open now."))
	in.opened, errs[1] = m.Int64Counter("wsmw.connections.opened",
		metric.WithUnit("{connection}"), metric.WithDescription("WebSocket connections opened (upgrades that succeeded)."))
	in.closed, errs[2] = m.Int64Counter("wsmw.connections.closed",
		metric.WithUnit("{connection}"), metric.WithDescription("WebSocket connections ended, by close code, initiator (local, peer, abnormal) and cause."))
	in.rejections, errs[3] = m.Int64Counter("wsmw.upgrades.rejected",
		metric.WithUnit("{request}"), metric.WithDescription("WebSocket upgrade requests answered with an HTTP status instead of an upgrade."))
	in.sessions, errs[4] = m.Float64Histogram("wsmw.session.duration",
		metric.WithUnit("s"), metric.WithDescription("Time from the upgrade until the connection ended."),
		metric.WithExplicitBucketBoundaries(sessionBuckets...))
	in.rtt, errs[5] = m.Float64Histogram("wsmw.ping.rtt",
		metric.WithUnit("s"), metric.WithDescription("Round-trip time of heartbeat pings, from the ping written to its pong read."),
		metric.WithExplicitBucketBoundaries(pingBuckets...))
	in.messages, errs[6] = m.Int64ObservableCounter("wsmw.messages",
		metric.WithUnit("{message}"), metric.WithDescription("Data messages read from peers (receive) and written to them (transmit)."))
	in.bytes, errs[7] = m.Int64ObservableCounter("wsmw.bytes",
		metric.WithUnit("By"), metric.WithDescription("Payload bytes of the data messages read from peers (receive) and written to them (transmit)."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	if _, err := m.RegisterCallback(in.observe, in.messages, in.bytes); err != nil {
		return nil, err
	}
	// Show the usual refusals at zero from the start.
	for _, status := range []int{401, 403, 429, 503} {
		in.rejections.Add(context.Background(), 0, metric.WithAttributes(semconv.HTTPResponseStatusCode(status)))
	}
	return in, nil
}

// observe reports the message counters: the ended connections' and the
// live ones' so far.
func (in *instruments) observe(_ context.Context, o metric.Observer) error {
	in.mu.Lock()
	total := in.ended
	for c := range in.live {
		total.add(c.counts())
	}
	in.mu.Unlock()
	o.ObserveInt64(in.messages, int64(total.msgsIn), in.receive)
	o.ObserveInt64(in.messages, int64(total.msgsOut), in.transmit)
	o.ObserveInt64(in.bytes, int64(total.bytesIn), in.receive)
	o.ObserveInt64(in.bytes, int64(total.bytesOut), in.transmit)
	return nil
}

// open counts a connection that the attachments reached.
func (in *instruments) open(c *conn) {
	in.mu.Lock()
	in.live[c] = struct{}{}
	in.mu.Unlock()
	in.opened.Add(context.Background(), 1)
	in.active.Add(context.Background(), 1)
}

// end moves c's final counts to the ended connections' and reports whether
// c was counted open.
func (in *instruments) end(c *conn) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.live[c]; !ok {
		return false
	}
	delete(in.live, c)
	in.ended.add(c.counts())
	return true
}

func (in *instruments) observeRTT(rtt time.Duration) {
	in.rtt.Record(context.Background(), rtt.Seconds())
}
