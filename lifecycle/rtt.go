package lifecycle

import "time"

// Round-trip times: Ping remembers when it wrote its data (up to 8 bytes,
// the heartbeat's, without allocating), and the pong that echoes it gives
// the time.

// maxRTTData is the longest ping data whose pong is timed.
const maxRTTData = 8

type pingRecord struct {
	sent time.Duration    // since epoch; 0 when no ping is outstanding
	data [maxRTTData]byte // Conn.pingLen bytes of it
}

// notePing remembers a ping about to be written.
func (c *Conn) notePing(data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(data) > maxRTTData {
		c.ping.sent = 0
		return
	}
	c.pingLen = uint8(copy(c.ping.data[:], data))
	c.ping.sent = time.Since(epoch)
}

// timePong measures the round trip of a pong that echoes the outstanding
// ping, once.
func (c *Conn) timePong(appData string) {
	c.mu.Lock()
	p := &c.ping
	if p.sent == 0 || string(p.data[:c.pingLen]) != appData {
		c.mu.Unlock()
		return
	}
	rtt := time.Since(epoch) - p.sent
	p.sent = 0
	c.rtt.Store(int64(rtt))
	f := c.onRTT
	c.mu.Unlock()
	if f != nil {
		f(rtt)
	}
}

// RTT returns the round-trip time of the connection's last timed ping
// (from the ping being written to its pong being read, so including the
// time the pong waited for a reader), zero before the first one.
func (c *Conn) RTT() time.Duration { return time.Duration(c.rtt.Load()) }

// OnRTT adds a function called with each round-trip time measured, on the
// reading goroutine; it must be cheap. The heartbeat's pings are timed
// (timeout.Heartbeat); metrics feed a histogram this way.
func (c *Conn) OnRTT(f func(rtt time.Duration)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.onRTT
	if prev == nil {
		c.onRTT = f
		return
	}
	c.onRTT = func(rtt time.Duration) {
		prev(rtt)
		f(rtt)
	}
}
