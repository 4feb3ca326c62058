package bench

import (
	"net/http"
	"time"

	"github.com/wsmw/wsmw"
	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/ratelimit"
	"github.com/wsmw/wsmw/timeout"
)

func init() { register(WSMWFull, newWSMWFull) }

// The full stack's settings: the example's defaults, except for the
// message rate, set so high that no benchmark reaches it (the check still
// runs on every message).
const (
	fullSessionExpiry  = 30 * time.Minute
	fullIdleTimeout    = 5 * time.Minute
	fullPingInterval   = 20 * time.Second
	fullPongTimeout    = 20 * time.Second
	fullMessageRate    = 1e6
	fullMessageBurst   = 1e6
	fullMaxMessageSize = 64 << 10
)

// FullStack returns the policies of the wsmw-full row, outermost first:
// JWT (HS256 with secret), session expiry, idle timeout, heartbeat (ping
// every 20 s, or o.Ping), message rate and message size limit.
func FullStack(o Options) []func(http.Handler) http.Handler {
	ping, pong := fullPingInterval, fullPongTimeout
	if o.Ping > 0 {
		ping, pong = o.Ping, o.PongTimeout
	}
	return []func(http.Handler) http.Handler{
		auth.JWT(auth.HMAC(o.Secret)),
		timeout.SessionExpiry(fullSessionExpiry),
		timeout.IdleTimeout(fullIdleTimeout),
		timeout.Heartbeat(ping, pong),
		ratelimit.MessageRate(fullMessageRate, fullMessageBurst),
		ratelimit.MaxMessageSize(fullMaxMessageSize),
	}
}

// newWSMWFull is wsmw.Handler behind [FullStack].
func newWSMWFull(s *Server, o Options) error {
	reg := wsmw.NewRegistry()
	s.Handler = chain(s.counted(wsmw.Handler(reg, echoWSMW(o))), FullStack(o)...)
	s.Shutdown = reg.Shutdown
	return nil
}

// withHeartbeat wraps h with the Heartbeat policy alone.
func withHeartbeat(h http.Handler, o Options) (http.Handler, error) {
	return chain(h, timeout.Heartbeat(o.Ping, o.PongTimeout)), nil
}

// chain wraps h in mws, the first outermost.
func chain(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
