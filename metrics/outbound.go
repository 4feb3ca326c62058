package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsmw/wsmw/lifecycle"
)

// outboundBytes is what lifecycle.Conn would offer for counting outbound
// bytes the way OutboundMessages counts messages. When it does,
// wsmw_bytes_out_total is registered and fed on its own.
type outboundBytes interface{ OutboundBytes() uint64 }

var bytesOutSupported = func() bool {
	_, ok := any((*lifecycle.Conn)(nil)).(outboundBytes)
	return ok
}()

// outbound collects wsmw_messages_out_total (and wsmw_bytes_out_total) from
// the connections' own counters, read at scrape time: the write path costs
// nothing more. The counts of ended connections are kept in closed*; the
// mutex makes moving a connection's count there atomic for scrapes, so the
// counters never go down.
type outbound struct {
	msgsDesc, bytesDesc *prometheus.Desc

	mu          sync.Mutex
	live        map[*lifecycle.Conn]struct{}
	closedMsgs  uint64
	closedBytes uint64
}

func newOutbound() *outbound {
	return &outbound{
		msgsDesc:  prometheus.NewDesc("wsmw_messages_out_total", "Data messages written to peers.", nil, nil),
		bytesDesc: prometheus.NewDesc("wsmw_bytes_out_total", "Payload bytes of the data messages written to peers.", nil, nil),
		live:      make(map[*lifecycle.Conn]struct{}),
	}
}

func (o *outbound) add(c *lifecycle.Conn) {
	o.mu.Lock()
	o.live[c] = struct{}{}
	o.mu.Unlock()
}

// ended moves c's final counts to the totals of ended connections and
// reports whether c was counted.
func (o *outbound) ended(c *lifecycle.Conn) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.live[c]; !ok {
		return false
	}
	delete(o.live, c)
	o.closedMsgs += c.OutboundMessages()
	o.closedBytes += bytesOf(c)
	return true
}

func bytesOf(c *lifecycle.Conn) uint64 {
	if b, ok := any(c).(outboundBytes); ok {
		return b.OutboundBytes()
	}
	return 0
}

// Describe implements prometheus.Collector.
func (o *outbound) Describe(ch chan<- *prometheus.Desc) {
	ch <- o.msgsDesc
	if bytesOutSupported {
		ch <- o.bytesDesc
	}
}

// Collect implements prometheus.Collector.
func (o *outbound) Collect(ch chan<- prometheus.Metric) {
	o.mu.Lock()
	msgs, bytes := o.closedMsgs, o.closedBytes
	for c := range o.live {
		msgs += c.OutboundMessages()
		bytes += bytesOf(c)
	}
	o.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(o.msgsDesc, prometheus.CounterValue, float64(msgs))
	if bytesOutSupported {
		ch <- prometheus.MustNewConstMetric(o.bytesDesc, prometheus.CounterValue, float64(bytes))
	}
}
