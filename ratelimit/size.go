package ratelimit

import (
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// MaxMessageSize limits the data messages a connection reads to n bytes
// (Conn.SetReadLimit): a larger one closes the connection with 1009
// "message too big", cause ErrMessageTooBig, recorded as the local close it
// is. The server stops reading such a message at n+1 bytes, so its memory
// use is bounded by n. Without it a connection reads at most
// (1 << 20) (1 MiB): a missing limit is an attack. n must
// be positive; -1 lifts the limit (only for peers you trust).
func MaxMessageSize(n int64) func(http.Handler) http.Handler {
	if n == 0 || n < -1 {
		panic(fmt.Sprintf("wsmw: MaxMessageSize(%d): must be positive (or -1 for no limit)", n))
	}
	return middleware.Policy(func(c *lifecycle.Conn) error {
		connx.SetReadLimit(c, n)
		return nil
	})
}

// invalidUTF8 is prebuilt: the check allocates nothing.
var invalidUTF8 = &lifecycle.CloseError{
	Code:   lifecycle.StatusInvalidFramePayloadData,
	Reason: "invalid utf-8",
	Cause:  ErrInvalidUTF8,
}

// ValidUTF8 closes a connection that sends a text message that is not
// valid UTF-8 with 1007 "invalid utf-8", cause [ErrInvalidUTF8], as RFC 6455
// §8.1 requires (gorilla/websocket does not check); [middleware.WithClose]
// changes the frame. Binary messages are not inspected.
func ValidUTF8(opts ...middleware.Option) func(http.Handler) http.Handler {
	invalid := newConfig(forUTF8, invalidUTF8, opts).closeErr
	check := func(mt lifecycle.MessageType, data []byte) error {
		if mt == lifecycle.TextMessage && !utf8.Valid(data) {
			return invalid
		}
		return nil
	}
	return middleware.Policy(func(c *lifecycle.Conn) error {
		c.AddReadCheck(check)
		return nil
	})
}

// LimitFrames sets each connection's budgets of control frames and
// fragments (see [lifecycle.FrameLimits]): the pings and unsolicited pongs a
// peer may send, and how many frames a message may be cut into. They are
// on by default ([lifecycle.FrameLimits]); use this to loosen them for
// clients you know, or to tighten them. l is copied.
func LimitFrames(l lifecycle.FrameLimits) func(http.Handler) http.Handler {
	limits := &l
	return middleware.Policy(func(c *lifecycle.Conn) error {
		connx.SetFrameLimits(c, limits)
		return nil
	})
}
