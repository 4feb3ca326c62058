package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

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
	o.closedMsgs += connx.OutboundMessages(c)
	o.closedBytes += connx.OutboundBytes(c)
	return true
}

// Describe implements prometheus.Collector.
func (o *outbound) Describe(ch chan<- *prometheus.Desc) {
	ch <- o.msgsDesc
	ch <- o.bytesDesc
}

// Collect implements prometheus.Collector.
func (o *outbound) Collect(ch chan<- prometheus.Metric) {
	o.mu.Lock()
	msgs, bytes := o.closedMsgs, o.closedBytes
	for c := range o.live {
		msgs += connx.OutboundMessages(c)
		bytes += connx.OutboundBytes(c)
	}
	o.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(o.msgsDesc, prometheus.CounterValue, float64(msgs))
	ch <- prometheus.MustNewConstMetric(o.bytesDesc, prometheus.CounterValue, float64(bytes))
}
