package metrics

import (
	"time"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/timeout"
)

// observePings feeds wsmw_ping_rtt_seconds with each round trip measured by
// the connection's timeout.Heartbeat, if it has one.
//
// This is the package's only use of timeout (every other file imports only
// lifecycle and middleware): once the Conn measures round trips itself, the
// call below becomes that one line and the import goes.
func (m *Metrics) observePings(c *lifecycle.Conn) { timeout.NotifyRTT(c, m.rttFn) }

func (m *Metrics) observeRTT(rtt time.Duration) { m.pingRTT.Observe(rtt.Seconds()) }
