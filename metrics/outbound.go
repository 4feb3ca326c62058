package metrics

import "github.com/wsmw/wsmw/lifecycle"

// writeObserver is the hook the core needs to offer for outbound counting:
// a function called after each data message written, with its type and
// payload size, installed before the handler starts (like AddReadCheck).
// lifecycle.Conn does not have it yet; when it does, wsmw_messages_out_total
// and wsmw_bytes_out_total are registered and fed on their own.
type writeObserver interface {
	OnWrite(func(mt lifecycle.MessageType, n int))
}

// outboundSupported reports whether lifecycle.Conn offers writeObserver.
var outboundSupported = func() bool {
	_, ok := any((*lifecycle.Conn)(nil)).(writeObserver)
	return ok
}()

func (m *Metrics) observeOutbound(c *lifecycle.Conn) {
	if wo, ok := any(c).(writeObserver); ok {
		wo.OnWrite(m.countOutFn)
	}
}

// countOut counts one outbound data message.
func (m *Metrics) countOut(_ lifecycle.MessageType, n int) {
	m.msgsOut.Inc()
	m.bytesOut.Add(float64(n))
}
