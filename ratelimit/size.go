package ratelimit

import (
	"net/http"
	"unicode/utf8"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// MaxMessageSize limits the data messages a connection reads to n bytes
// (Conn.SetReadLimit): a larger one closes the connection with 1009
// "message too big", cause ErrMessageTooBig, recorded as the local close it
// is. The server stops reading such a message at n+1 bytes, so its memory
// use is bounded by n. n ≤ 0 leaves the Upgrader's limit (1 MiB by
// default).
func MaxMessageSize(n int64) func(http.Handler) http.Handler {
	if n <= 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return middleware.Policy(func(c *lifecycle.Conn) error {
		c.SetReadLimit(n)
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
// valid UTF-8 with 1007 "invalid utf-8", cause ErrInvalidUTF8, as RFC 6455
// §8.1 requires (gorilla/websocket does not check). Binary messages are
// not inspected.
func ValidUTF8() func(http.Handler) http.Handler {
	return middleware.Policy(func(c *lifecycle.Conn) error {
		c.AddReadCheck(checkUTF8)
		return nil
	})
}

func checkUTF8(mt lifecycle.MessageType, data []byte) error {
	if mt == lifecycle.TextMessage && !utf8.Valid(data) {
		return invalidUTF8
	}
	return nil
}
