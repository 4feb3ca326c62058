package lifecycle

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/connlink"
)

// Defaults used when config leaves a field zero.
const (
	// defaultCloseTimeout bounds the close handshake.
	defaultCloseTimeout = 5 * time.Second
	// defaultReadLimit is the largest message a Conn reads unless told
	// otherwise (1 MiB). A missing limit lets any peer exhaust memory.
	defaultReadLimit = 1 << 20
	// abortWriteTimeout bounds the best-effort Close frame of Abort.
	abortWriteTimeout = time.Second
)

// MessageType is the type of a data message.
type MessageType int

// Data message types, equal to gorilla/websocket's.
const (
	TextMessage   MessageType = websocket.TextMessage
	BinaryMessage MessageType = websocket.BinaryMessage
)

// config configures a Conn made by accept (connlink.Config describes its
// fields; internal/connx names it for middleware).
type config = connlink.Config[Registry, Conn, CloseInfo, FrameLimits]

// Conn is a WebSocket connection with a managed lifecycle. Reads follow
// gorilla/websocket (one reader at a time); writes and closes are safe from
// any goroutine. Once closing has started, reads and writes return a
// [*CloseError].
type Conn struct {
	ws       *websocket.Conn
	guard    frameGuard      // the net.Conn under ws's reader; it holds the settings (settings.go)
	parent   context.Context // Context's parent; Context is made on first use
	openedAt time.Duration   // monotonic, since epoch

	end           closing       // the close arbiter's state and decision (arbiter.go)
	flags         atomic.Uint32 // see the flag constants
	pingLen       uint8         // of ping's data; guarded by mu
	inbound       atomic.Uint64
	outbound      atomic.Uint64
	outboundBytes atomic.Uint64
	rtt           atomic.Int64 // the last round-trip time, see RTT

	writeMu sync.Mutex // one WriteMessage at a time: gorilla's message writer is not shared

	onPong func(appData string) // every addPongHook function, chained; set up before the handler reads

	events atomic.Pointer[eventConn] // while event mode serves the Conn (see serveEvents)

	mu       sync.Mutex // guards the fields below; taken before Registry.mu
	waiters  *waiters   // made on first use of Context or Done, or by finish
	reg      *Registry
	subj     *subjectLink // nil without a subject
	lists    connLists    // the read checks (set up before the handler reads), OnClose hooks and values
	ping     pingRecord
	onRTT    func(time.Duration) // every OnRTT function, chained
	timers   *Timer              // the first of the list of timers (Timer.next)
	wake     *time.Timer         // one runtime timer for all of timers, outside event mode
	armedFor time.Duration       // the deadline the wake-up is armed for
	wakeIdx  int32               // 1 + c's index in its event loop's wakeHeap, 0 when not in it; guarded by the heap's mu
	regIdx   int32               // 1 + c's index in reg's list, 0 when not in it; guarded by reg's mu
}

type keyValue struct{ key, value any }

// subjectLink is a connection's subject and its place in its Registry's
// list of that subject's connections. Connections without a subject (most,
// where subjects are not used) need none.
type subjectLink struct {
	subject    string
	prev, next *Conn // neighbours in the Registry's list; guarded by Registry.mu
}

// subjectLocked returns c's subject. c.mu (or the Registry's mu, for a
// registered Conn) is held.
func (c *Conn) subjectLocked() string {
	if c.subj == nil {
		return ""
	}
	return c.subj.subject
}

// next is the Conn after c in its subject's list. The Registry's mu is
// held.
func (c *Conn) next() *Conn { return c.subj.next }

// Flags of Conn.flags.
const (
	flagReading       = 1 << iota // the application is inside the gorilla reader (always, in event mode)
	flagDrainClaimed              // someone reads until the peer's Close
	flagDeflate                   // permessage-deflate was negotiated
	flagLeftEvents                // leaveEvents has run
	flagWakeDeferred              // the timers wait for serveEvents (config.Events)
	flagHandlersBound             // gorilla's close, ping and pong handlers are the Conn's
	flagNonblocking               // the read buffer reads without waiting (event mode)
	flagServing                   // a worker of the event loop serves the connection
	flagServeAgain                // a wake-up came while it did: it reads again
	flagReadable                  // a wake-up came before serveEvents: its first turn reads
)

func (c *Conn) hasFlag(f uint32) bool { return c.flags.Load()&f != 0 }

// claimFlag sets f and reports whether this call set it.
func (c *Conn) claimFlag(f uint32) bool { return c.flags.Or(f)&f == 0 }

// waiters are made for the few connections whose Context or Done is asked
// for, and by finish, which keeps the [CloseInfo] here.
type waiters struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}
	info   CloseInfo  // set by finish before it takes the hooks
	values connValues // ctx's parent
}

// connValues is the parent of a Conn's context: it answers with the
// Conn's values (LoadOrStore), the Conn itself (connOf), and then what
// config.Context holds, so that a policy keeps a connection's state in one
// place and code that has only the context finds it.
type connValues struct {
	context.Context // config.Context
	c               *Conn
}

type connKey struct{}

func (v *connValues) Value(key any) any {
	if key == (connKey{}) {
		return v.c
	}
	if val := v.c.Value(key); val != nil {
		return val
	}
	return v.Context.Value(key)
}

// connOf returns the Conn whose context ([Conn.Context]) ctx is or derives
// from, nil for none.
func connOf(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}

// epoch is the origin of the Conns' monotonic clock readings.
var epoch = time.Now()

// newConn makes a Conn for cfg; bind gives it its gorilla connection.
func newConn(cfg config) *Conn {
	parent := cfg.Context
	if parent == nil {
		parent = context.Background()
	}
	c := &Conn{
		parent:   parent,
		openedAt: time.Since(epoch), // before the 101: a revocation made after it reaches the Conn
	}
	set := connSettings{log: cfg.Logger, closeTimeout: cfg.CloseTimeout, readLimit: defaultReadLimit, limits: cfg.FrameLimits}
	if set.log == nil {
		set.log = slog.Default()
	}
	if set.closeTimeout <= 0 {
		set.closeTimeout = defaultCloseTimeout
	}
	c.guard.set.Store(shareSettings(set))
	if cfg.Events {
		c.flags.Store(flagWakeDeferred)
	}
	if cfg.Subject != "" {
		c.subj = &subjectLink{subject: cfg.Subject}
	}
	return c
}

// bind takes over ws, right after the handshake: from now on the Conn owns
// ws's close, ping and pong handlers. A Conn made for event mode installs
// them with its first gorilla read (nextReader): the event loop answers
// the control frames between messages itself, so a peer that sends no data
// (a push-only client) never needs them, nor their three closures.
func (c *Conn) bind(ws *websocket.Conn) {
	c.ws = ws
	if !c.hasFlag(flagWakeDeferred) {
		c.bindHandlers()
		return
	}
	// gorilla's default close and ping handlers are closures over ws (32
	// bytes a connection); they are never called, since nextReader binds
	// the Conn's before gorilla reads: static ones stand in meanwhile.
	ws.SetCloseHandler(unboundClose)
	ws.SetPingHandler(unboundPing)
}

// unboundClose and unboundPing are the handlers of an event-mode
// connection's gorilla Conn until nextReader binds the Conn's.
func unboundClose(int, string) error { return nil }
func unboundPing(string) error       { return nil }

func (c *Conn) bindHandlers() {
	c.ws.SetCloseHandler(c.handlePeerClose)
	c.ws.SetPongHandler(c.handlePong)
	c.ws.SetPingHandler(c.handlePing)
	c.flags.Or(flagHandlersBound)
}

// nextReader is gorilla's NextReader, with the Conn's handlers in place.
// Only the reader calls it.
func (c *Conn) nextReader() (int, io.Reader, error) {
	if !c.hasFlag(flagHandlersBound) {
		c.bindHandlers()
	}
	return c.ws.NextReader()
}

// Context returns a context that is cancelled when closing starts
// (context.Cause returns the [*CloseError]) and carries the Conn's values
// ([Conn.LoadOrStore]) and those of the upgrade's policies. It is made on
// first use.
func (c *Conn) Context() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.waitersLocked()
	if w.ctx == nil {
		w.values = connValues{c.parent, c}
		w.ctx, w.cancel = context.WithCancelCause(&w.values)
		if err := c.closeErr(); err != nil {
			w.cancel(err)
		}
	}
	return w.ctx
}

func (c *Conn) waitersLocked() *waiters {
	if c.waiters == nil {
		c.waiters = new(waiters)
	}
	return c.waiters
}

// closedChan is the Done channel of connections that ended before anyone
// asked for it.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// Done is closed when the connection has ended: TCP is closed and every
// OnClose hook has run. Asked while the connection's OnClose hooks run (from
// one of them, say), it returns a closed channel: the [CloseInfo] is final,
// and a hook must not wait for itself.
func (c *Conn) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state() >= stateHooking {
		return closedChan
	}
	w := c.waitersLocked()
	if w.done == nil {
		w.done = make(chan struct{})
	}
	return w.done
}

// Wait blocks until the connection has ended and returns how. Called while
// the connection's OnClose hooks run (from one of them, say), it returns the
// final [CloseInfo] at once.
func (c *Conn) Wait() CloseInfo {
	<-c.Done()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waiters.info
}

// Err returns nil while the connection is open and, once closing has
// started, the [*CloseError] of the close that won (its cause matches with
// errors.Is), like context.Context's Err.
func (c *Conn) Err() error { return c.closeErr() }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

// Subprotocol returns the negotiated subprotocol, "" if none.
func (c *Conn) Subprotocol() string { return c.ws.Subprotocol() }

// OpenedAt returns when the Conn was made, as its handshake began.
func (c *Conn) openedTime() time.Time { return epoch.Add(c.openedAt) }

// Logger returns the Conn's logger.
func (c *Conn) Logger() *slog.Logger { return c.settings().log }
