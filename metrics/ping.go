package metrics

import (
	"time"

	"github.com/wsmw/wsmw/lifecycle"
)

// observePings feeds wsmw_ping_rtt_seconds with each round trip the
// connection times (the heartbeat's pings, [lifecycle.Conn.OnRTT]).
func (m *Metrics) observePings(c *lifecycle.Conn) { c.OnRTT(m.rttFn) }

func (m *Metrics) observeRTT(rtt time.Duration) { m.pingRTT.Observe(rtt.Seconds()) }
