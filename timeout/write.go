package timeout

import (
	"net/http"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// WriteTimeout bounds every data write (WriteMessage, Send's writer) to d:
// each frame written must be taken by the peer within d (a message is one
// frame unless compression splits it).
// A write that times out has left the stream broken mid-frame, so the
// connection cannot send a Close frame: TCP is closed at once and the end
// is reported as 1006 abnormal with cause ErrWriteTimeout
// ([lifecycle.ErrWriteTimeout]). Without it, a peer that stops reading blocks
// a writer until the kernel gives up, which can take many minutes. Zero
// turns it off; a negative d panics. 10 s is a good default: a peer that
// has not accepted a frame in ten seconds is not coming back.
func WriteTimeout(d time.Duration) func(http.Handler) http.Handler {
	checkDuration("WriteTimeout", d)
	if d == 0 {
		return passThrough
	}
	return middleware.Policy(func(c *lifecycle.Conn) error {
		connx.SetWriteTimeout(c, d)
		return nil
	})
}
