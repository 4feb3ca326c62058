package resilience_test

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/queue"
	"github.com/wsmw/wsmw/ratelimit"
	"github.com/wsmw/wsmw/timeout"
)

// Timings of the chaos server: short, so that a wave takes seconds, but
// with a pong timeout that a healthy peer meets even when the race
// detector and a loaded 2-core machine delay it by seconds.
const (
	chaosPingInterval = time.Second
	chaosPongTimeout  = 3 * time.Second
	chaosCloseTimeout = 500 * time.Millisecond
	chaosMaxMessage   = 4096
	chaosMsgRate      = 100 // per second
	chaosMsgBurst     = 30
	chaosMaxConns     = 5000
)

var chaosSecret = []byte("chaos-test-secret-0123456789abcdef")

// slowPayload is what the server pushes to slow consumers; Send keeps
// the slice, so one is shared by all.
var slowPayload = make([]byte, 16<<10)

var discardLog = slog.New(slog.DiscardHandler)

// record is one chaos connection: its fate, and how it ended on both
// sides.
type record struct {
	id      string
	fate    fate
	subject string
	code    int    // fateClean: the code the client closes with
	reason  string // fateClean: its reason
	early   bool   // fateClean, fateReset: act before any message

	hooks atomic.Int32        // OnClose calls
	info  lifecycle.CloseInfo // set by the first OnClose, before ended is closed
	ended chan struct{}

	// Written by the client goroutine.
	status     int    // 101, or the HTTP status of a refused upgrade
	clientCode int    // the close code the client read, 0 for none
	clientErr  string // what went wrong on the client side
}

func (rec *record) onClose(_ *lifecycle.Conn, info lifecycle.CloseInfo) {
	if rec.hooks.Add(1) == 1 {
		rec.info = info
		close(rec.ended)
	}
}

type recordKey struct{}

// recorder is the outermost middleware: it finds the request's record by
// its X-Chaos-Id header and hooks the connection's end, whether or not the
// other attachments ran (a Registry that started draining after the
// upgrade refuses the connection before them).
func recorder(recs map[string]*record) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := recs[r.Header.Get("X-Chaos-Id")]
			if rec == nil {
				http.Error(w, "unknown chaos id", http.StatusBadRequest)
				return
			}
			r = middleware.WithValue(r, recordKey{}, rec) // Conn.Context carries it
			attached := false
			r = policy.Attach(r, func(c *lifecycle.Conn) error {
				attached = true
				c.OnClose(rec.onClose)
				return nil
			})
			next.ServeHTTP(w, r)
			if c := middleware.UpgradedConn(r); c != nil && !attached {
				c.OnClose(rec.onClose)
			}
		})
	}
}

// chaosHandler is every policy in front of the chaos handler, as an
// application would stack them.
func chaosHandler(reg *lifecycle.Registry, recs map[string]*record, slots ratelimit.Store, mode conntest.Mode) http.Handler {
	policies := []func(http.Handler) http.Handler{
		recorder(recs),
		auth.JWT(auth.HMAC(chaosSecret), middleware.WithLogger(discardLog)),
		ratelimit.MaxTotalConns(chaosMaxConns, ratelimit.WithStore(slots), middleware.WithLogger(discardLog)),
		ratelimit.MaxConns(chaosMaxConns, ratelimit.WithStore(slots), middleware.WithLogger(discardLog)),
		timeout.SessionExpiry(time.Minute),
		timeout.IdleTimeout(time.Minute),
		timeout.Heartbeat(chaosPingInterval, chaosPongTimeout),
		queue.SlowConsumer(queue.WithMaxMessages(16), queue.WithMaxBytes(256<<10)),
		ratelimit.MaxMessageSize(chaosMaxMessage),
		ratelimit.MessageRate(chaosMsgRate, chaosMsgBurst),
		ratelimit.ValidUTF8(),
	}
	opts := []middleware.Option{middleware.WithCloseTimeout(chaosCloseTimeout), middleware.WithLogger(discardLog)}
	var h http.Handler
	if mode.Events {
		policies = append(policies, middleware.OnOpen(openChaos))
		h = middleware.EventHandler(reg, chaosMessage, opts...)
	} else {
		h = middleware.Handler(reg, conntest.Serve(serveChaos), opts...)
	}
	for i := len(policies) - 1; i >= 0; i-- {
		h = policies[i](h)
	}
	return h
}

func recordOf(c *lifecycle.Conn) *record { return c.Context().Value(recordKey{}).(*record) }

// serveChaos is the connection handler: an echo, except for the fates
// that need the server to act.
func serveChaos(c *lifecycle.Conn) {
	rec := recordOf(c)
	switch rec.fate {
	case fateReturn:
		if mt, msg, err := c.ReadMessage(); err == nil {
			c.WriteMessage(mt, msg)
		}
		return // 1000
	case fateClosers:
		startClosers(c)
	case fateSlow:
		go queue.DiscardMessages(c)
		overrun(c)
		// Return at once: the overflow's 1008 is decided before Send
		// reports it, so the handler's own 1000 cannot win.
		return
	}
	conntest.Echo(c)
}

// openChaos starts, in event mode, what serveChaos does before its echo
// loop: the racing closers, the slow consumer's pushes.
func openChaos(c *lifecycle.Conn) {
	switch recordOf(c).fate {
	case fateClosers:
		startClosers(c)
	case fateSlow:
		go overrun(c)
	}
}

// chaosMessage is the event mode's serveChaos: an echo, and for
// fateReturn the end a returning handler makes after its one echo.
func chaosMessage(c *lifecycle.Conn, mt lifecycle.MessageType, msg []byte) {
	c.WriteMessage(mt, msg)
	if recordOf(c).fate == fateReturn {
		c.CloseWith(lifecycle.ErrHandlerReturned, lifecycle.StatusNormalClosure, "")
	}
}

// startClosers makes eight goroutines close c at once, each with its own
// code and cause.
func startClosers(c *lifecycle.Conn) {
	start := make(chan struct{})
	for i, cause := range closerErrs {
		go func() {
			<-start
			c.CloseWith(cause, lifecycle.StatusCode(4000+i), "closer "+strconv.Itoa(i))
		}()
	}
	close(start)
}

// overrun pushes to a slow consumer until its queue overflows.
func overrun(c *lifecycle.Conn) {
	for range 100_000 {
		if queue.Send(c, lifecycle.BinaryMessage, slowPayload) != nil {
			return
		}
	}
}
