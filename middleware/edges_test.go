package middleware_test

// The arbiter's promise on the paths that issue 13 found broken: each test
// here failed on the code before the fix (named in the test's comment) and
// uses only APIs that existed then, so that it can be run against it.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// hookLog counts each connection's OnClose calls and keeps the last
// CloseInfo.
type hookLog struct {
	mu    sync.Mutex
	calls map[*lifecycle.Conn]int
	infos chan lifecycle.CloseInfo
}

func newHookLog() *hookLog {
	return &hookLog{calls: map[*lifecycle.Conn]int{}, infos: make(chan lifecycle.CloseInfo, 1000)}
}

func (h *hookLog) hook(c *lifecycle.Conn, info lifecycle.CloseInfo) {
	h.mu.Lock()
	h.calls[c]++
	h.mu.Unlock()
	h.infos <- info
}

func (h *hookLog) next(t *testing.T) lifecycle.CloseInfo {
	t.Helper()
	select {
	case info := <-h.infos:
		return info
	case <-time.After(10 * time.Second):
		t.Fatal("no OnClose within 10s")
	}
	return lifecycle.CloseInfo{}
}

// exactlyOnce fails unless every connection seen ran its hook once.
func (h *hookLog) exactlyOnce(t *testing.T, want int) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.calls) != want {
		t.Fatalf("%d connections ran the hook, want %d", len(h.calls), want)
	}
	for _, n := range h.calls {
		if n != 1 {
			t.Fatalf("a hook ran %d times", n)
		}
	}
}

// Fails before the fix: OnClose was an attachment, and the failing one
// before it stopped the others; the hook ran 0 times.
func TestOnCloseAfterAFailingAttachmentRunsOnce(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		errNope := errors.New("nope")
		reg := lifecycle.NewRegistry()
		hooks := newHookLog()
		deny := middleware.Policy(func(*lifecycle.Conn) error {
			return &lifecycle.CloseError{Code: 4403, Reason: "forbidden", Cause: errNope}
		})
		h := deny(middleware.OnClose(hooks.hook)(mode.Handler(reg, func(*lifecycle.Conn, lifecycle.MessageType, []byte) { t.Error("message function ran") })))
		c, err := wstest.DialRaw(wstest.Server(t, h), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		f, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil || f.CloseCode() != 4403 {
			t.Fatalf("close %d %v", f.CloseCode(), err)
		}
		c.WriteClose(4403, "")
		info := hooks.next(t)
		// The cause is the attachment's own, not the CloseError that
		// carried it (whose text would end up in logs and metrics).
		if info.Cause != errNope || info.Code != 4403 || !info.HandshakeComplete {
			t.Fatalf("info %+v", info)
		}
		reg.Shutdown(t.Context())
		hooks.exactlyOnce(t, 1)
	})
}

// drainOnHijack starts reg's shutdown at the last moment before the
// handshake completes: after the Upgrader saw that the Registry was not
// draining, before the connection joins it.
type drainOnHijack struct {
	http.ResponseWriter
	reg      *lifecycle.Registry
	shutdown chan error
}

func (d *drainOnHijack) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	go func() { d.shutdown <- d.reg.Shutdown(context.Background()) }()
	for !connx.Draining(d.reg) {
		runtime.Gosched()
	}
	return d.ResponseWriter.(http.Hijacker).Hijack()
}

// Fails before the fix: Registry.Add refused the connection before the
// attachments ran, so the OnClose hook never did.
func TestOnCloseWhenTheRegistryRefusesTheConnection(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		reg := lifecycle.NewRegistry()
		hooks := newHookLog()
		shutdown := make(chan error, 1)
		h := middleware.OnClose(hooks.hook)(mode.Handler(reg, func(*lifecycle.Conn, lifecycle.MessageType, []byte) { t.Error("message function ran") }))
		url := wstest.Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(&drainOnHijack{ResponseWriter: w, reg: reg, shutdown: shutdown}, r)
		}))
		c, err := wstest.DialRaw(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		f, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil || f.CloseCode() != 1001 || f.CloseReason() != "server shutting down" {
			t.Fatalf("close %d %q %v", f.CloseCode(), f.CloseReason(), err)
		}
		c.WriteClose(1001, "")
		info := hooks.next(t)
		if !errors.Is(info.Cause, lifecycle.ErrServerShutdown) || info.Code != 1001 {
			t.Fatalf("info %+v", info)
		}
		if err := <-shutdown; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		hooks.exactlyOnce(t, 1)
	})
}

// Fails before the fix: an HTTP/1.0 upgrade request was answered 101.
func TestHTTP10UpgradeIsRefused(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		url := wstest.Server(t, mode.Handler(lifecycle.NewRegistry(), conntest.DiscardMessage))
		conn, err := net.Dial("tcp", hostOf(url))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", hostOf(url))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("HTTP/1.0 upgrade answered %d", resp.StatusCode)
		}
	})
}

// rawFrame builds a frame header and payload exactly as given (masked
// with a zero key, so the payload goes as is).
func rawFrame(b0 byte, length []byte, payload []byte) []byte {
	f := append([]byte{b0}, length...)
	f[1] |= 0x80
	f = append(f, 0, 0, 0, 0)
	return append(f, payload...)
}

// In each read mode. Fails before the fix for every case but the last two: the log said 1002
// where the wire carried nothing, a 1-byte Close payload was taken for a
// normal close, and nothing budgeted control frames or fragments.
func TestWhatIsReportedIsWhatTheWireCarried(t *testing.T) {
	top := binary.BigEndian.AppendUint64([]byte{127}, 1<<63|5)
	cases := []struct {
		name        string
		compression bool
		send        func(c *wstest.RawClient) error
		code        int
		reason      string
		cause       error
	}{
		{"close frame with a 1-byte payload", false, func(c *wstest.RawClient) error {
			return c.WriteFrame(wstest.OpClose, true, []byte{0x03})
		}, 1002, "close frame too short", lifecycle.ErrProtocol},
		{"64-bit length with the top bit set", false, func(c *wstest.RawClient) error {
			_, err := c.Conn.Write(rawFrame(0x82, top, []byte("hello")))
			return err
		}, 1002, "invalid frame length", lifecycle.ErrProtocol},
		{"corrupt deflate data", true, func(c *wstest.RawClient) error {
			return c.WriteFrame(0x40|wstest.OpText, true, []byte{0xff, 0xff, 0xff, 0xff})
		}, 1002, "invalid compressed data", lifecycle.ErrProtocol},
		{"empty fragment flood", false, func(c *wstest.RawClient) error {
			if err := c.WriteFrame(wstest.OpText, false, []byte("a")); err != nil {
				return err
			}
			var burst []byte
			for range 1000 {
				burst = append(burst, rawFrame(0x00, []byte{0}, nil)...)
			}
			_, err := c.Conn.Write(burst)
			return err
		}, 1008, "too many fragments", lifecycle.ErrFragmentFlood},
		{"ping flood", false, func(c *wstest.RawClient) error {
			var burst []byte
			for range 1000 {
				burst = append(burst, rawFrame(0x89, []byte{0}, nil)...)
			}
			_, err := c.Conn.Write(burst)
			return err
		}, 1008, "too many control frames", lifecycle.ErrControlFlood},
		{"gorilla's own protocol error: RSV2", false, func(c *wstest.RawClient) error {
			return c.WriteFrame(0x20|wstest.OpText, true, []byte("x"))
		}, 1002, "RSV2 set", lifecycle.ErrProtocol},
		{"gorilla's own protocol error: bad close code", false, func(c *wstest.RawClient) error {
			return c.WriteClose(1014, "")
		}, 1002, "bad close code 1014", lifecycle.ErrProtocol},
	}
	for _, mode := range conntest.Modes {
		for _, tc := range cases {
			t.Run(mode.Name+"/"+tc.name, func(t *testing.T) {
				reg := lifecycle.NewRegistry()
				defer reg.Shutdown(context.Background())
				hooks := newHookLog()
				var opts []middleware.Option
				if tc.compression {
					opts = append(opts, middleware.WithCompression())
				}
				h := middleware.OnClose(hooks.hook)(mode.Handler(reg, conntest.DiscardMessage, opts...))
				var header http.Header
				if tc.compression {
					header = http.Header{"Sec-Websocket-Extensions": {"permessage-deflate"}}
				}
				c, err := wstest.DialRaw(wstest.Server(t, h), header)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if tc.compression && !strings.Contains(c.Response.Header.Get("Sec-Websocket-Extensions"), "permessage-deflate") {
					t.Fatal("compression not negotiated")
				}
				if err := tc.send(c); err != nil {
					t.Fatal(err)
				}
				f, _, err := c.ReadUntilClose(5 * time.Second)
				if err != nil {
					t.Fatalf("no Close frame on the wire: %v", err)
				}
				if f.CloseCode() != tc.code || f.CloseReason() != tc.reason {
					t.Fatalf("wire: %d %q, want %d %q", f.CloseCode(), f.CloseReason(), tc.code, tc.reason)
				}
				c.Close()
				info := hooks.next(t)
				if info.Sent == nil || int(info.Sent.Code) != f.CloseCode() || info.Sent.Reason != f.CloseReason() {
					t.Fatalf("CloseInfo.Sent %+v, wire %d %q", info.Sent, f.CloseCode(), f.CloseReason())
				}
				if int(info.Code) != tc.code || info.Reason != tc.reason || info.Initiator != lifecycle.InitiatorLocal || !errors.Is(info.Cause, tc.cause) {
					t.Fatalf("info %+v", info)
				}
			})
		}
	}
}

// smallReceiveBuffer makes a client socket that accepts little data, so
// that the server's writes to a client that never reads block soon.
var smallReceiveBuffer = &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
	var serr error
	rc.Control(func(fd uintptr) { serr = setReceiveBuffer(fd, 4096) })
	return serr
}}

// stuckServer serves connections, in mode, that either wait (idle) or
// write a message far larger than the socket buffers to a client that
// never reads (stuck): a writer blocked in the kernel, holding the write
// lock, as long as the write timeout allows (none here).
func stuckServer(t *testing.T, mode conntest.Mode, reg *lifecycle.Registry, hooks *hookLog, subject string) (url string, writing chan struct{}) {
	writing = make(chan struct{}, 100)
	big := make([]byte, 8<<20)
	setSubject := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, policy.WithSubject(r, subject))
		})
	}
	// The connection is read as its mode reads (so that an idle peer's
	// Close is seen); a stuck one's writer starts on open.
	open := middleware.OnOpen(func(c *lifecycle.Conn) {
		if c.Context().Value(roleKey{}) == "stuck" {
			writing <- struct{}{}
			go c.WriteMessage(lifecycle.BinaryMessage, big)
		}
	})
	h := setSubject(middleware.OnClose(hooks.hook)(open(mode.Handler(reg, conntest.DiscardMessage))))
	role := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, middleware.WithValue(r, roleKey{}, r.URL.Query().Get("role")))
		})
	}
	return wstest.Server(t, role(h)), writing
}

type roleKey struct{}

// Fails before the fix: the Close frames waited up to CloseTimeout behind
// each stuck writer, one worker at a time: Shutdown returned after ~6 s.
func TestShutdownKeepsItsDeadlineWithStuckWriters(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		reg := lifecycle.NewRegistry(connx.WithCloseParallelism(1))
		hooks := newHookLog()
		url, writing := stuckServer(t, mode, reg, hooks, "someone")
		var idle []*wstest.RawClient
		for range 3 { // three stuck clients
			c, err := wstest.DialRawWith(smallReceiveBuffer, url+"?role=stuck", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			<-writing
		}
		for range 5 {
			c, err := wstest.DialRaw(url+"?role=idle", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			idle = append(idle, c)
		}
		wstest.WaitFor(t, "8 registered connections", 5*time.Second, func() bool { return reg.Len() == 8 })
		idleSaw := make(chan int, len(idle))
		for _, c := range idle {
			go func() {
				f, _, err := c.ReadUntilClose(5 * time.Second)
				if err != nil {
					idleSaw <- -1
					return
				}
				c.WriteClose(f.CloseCode(), "")
				idleSaw <- f.CloseCode()
			}()
		}
		const bound = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		start := time.Now()
		err := reg.Shutdown(ctx)
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v", err)
		}
		if took > bound+200*time.Millisecond {
			t.Fatalf("Shutdown took %v with a %v context", took, bound)
		}
		for range idle {
			if code := <-idleSaw; code != 1001 {
				t.Fatalf("an idle client saw %d", code)
			}
		}
		if n := len(hooks.infos); n != 8 {
			t.Fatalf("%d hooks had run when Shutdown returned", n)
		}
		for range 8 {
			info := <-hooks.infos
			if !errors.Is(info.Cause, lifecycle.ErrServerShutdown) {
				t.Fatalf("cause %v", info.Cause)
			}
			// What is reported is what went out: a 1001 that was written, or
			// an abnormal end with nothing sent.
			switch {
			case info.Code == 1001 && info.Sent != nil && info.Sent.Code == 1001:
			case info.Code == 1006 && info.Initiator == lifecycle.InitiatorAbnormal && info.Sent == nil:
			default:
				t.Fatalf("info %+v", info)
			}
		}
		hooks.exactlyOnce(t, 8)
	})
}

// Fails before the fix: Revoke waited for every Close frame, each up to
// CloseTimeout behind a stuck writer.
func TestRevokeDoesNotWaitForStuckWriters(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		reg := lifecycle.NewRegistry(connx.WithCloseParallelism(1))
		defer reg.Shutdown(context.Background())
		hooks := newHookLog()
		url, writing := stuckServer(t, mode, reg, hooks, "mallory")
		for range 3 {
			c, err := wstest.DialRawWith(smallReceiveBuffer, url+"?role=stuck", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			<-writing
		}
		wstest.WaitFor(t, "3 registered connections", 5*time.Second, func() bool { return reg.Len() == 3 })
		start := time.Now()
		n := reg.Revoke("mallory")
		if took := time.Since(start); took > time.Second {
			t.Fatalf("Revoke took %v", took)
		}
		if n != 3 {
			t.Fatalf("Revoke closed %d", n)
		}
		for _, c := range connx.SubjectConns(reg, "mallory") {
			if !(c.Err() != nil) {
				t.Fatal("a revoked connection is not closing")
			}
		}
	})
}

// Fails before the fix: the 101 was written before the connection joined
// the Registry, and a revoke in between missed it (24-39 of 200 rounds).
func TestRevokeReachesAConnectionTheInstantIts101IsRead(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		reg := lifecycle.NewRegistry()
		defer reg.Shutdown(context.Background())
		subject := func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				next.ServeHTTP(w, policy.WithSubject(r, r.URL.Query().Get("sub")))
			})
		}
		url := wstest.Server(t, subject(mode.Handler(reg, conntest.DiscardMessage)))
		misses := 0
		for i := range 200 {
			sub := fmt.Sprintf("u%d", i)
			c, err := wstest.DialRaw(url+"?sub="+sub, nil)
			if err != nil {
				t.Fatal(err)
			}
			n := reg.Revoke(sub)
			f, _, err := c.ReadUntilClose(5 * time.Second)
			if n != 1 || err != nil || f.CloseCode() != 1008 || f.CloseReason() != "session revoked" {
				misses++
			}
			c.WriteClose(1008, "")
			c.Close()
		}
		if misses > 0 {
			t.Fatalf("%d of 200 revokes missed a connection whose 101 had been read", misses)
		}
	})
}

// Fails before the fix under -race: StartTimer wrote the timer's function
// while the shared runtime timer called it after unlocking.
func TestTimerRestartedWhileItFires(t *testing.T) {
	done := make(chan struct{})
	h := middleware.Handler(lifecycle.NewRegistry(), func(c *lifecycle.Conn, _ *http.Request) {
		defer close(done)
		var tm lifecycle.Timer
		var fired atomic.Int64
		for fired.Load() < 200 {
			c.StartTimer(&tm, 0, func() { fired.Add(1) })
		}
	})
	c, err := wstest.DialRaw(wstest.Server(t, h), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-done
	c.ReadUntilClose(5 * time.Second)
	c.WriteClose(1000, "")
}

// Fails before the fix: Done closed only after the hooks, so Wait inside a
// hook never returned, and Shutdown from a hook waited for that hook. The
// contract: Wait and Done return at once while the connection's hooks run;
// Shutdown does not wait for hooks already running when it is called, so a
// hook's Shutdown drains the other connections and returns when they end.
func TestWaitAndShutdownFromAHookReturn(t *testing.T) {
	conntest.EachMode(t, func(t *testing.T, mode conntest.Mode) {
		reg := lifecycle.NewRegistry()
		waited := make(chan lifecycle.CloseInfo, 1)
		shut := make(chan error, 1)
		first := atomic.Bool{}
		hook := func(c *lifecycle.Conn, _ lifecycle.CloseInfo) {
			if !first.CompareAndSwap(false, true) {
				return
			}
			waited <- c.Wait()
			shut <- reg.Shutdown(context.Background())
		}
		h := middleware.OnClose(hook)(mode.Handler(reg, conntest.DiscardMessage))
		url := wstest.Server(t, h)
		a, err := wstest.DialRaw(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := wstest.DialRaw(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		wstest.WaitFor(t, "2 registered connections", 5*time.Second, func() bool { return reg.Len() == 2 })
		a.WriteClose(4000, "bye")
		select {
		case info := <-waited:
			if info.Code != 4000 {
				t.Fatalf("Wait in the hook gave %+v", info)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Wait inside an OnClose hook did not return")
		}
		// The drain it started closes the other connection; Shutdown
		// returns once that one has ended.
		f, _, err := b.ReadUntilClose(5 * time.Second)
		if err != nil || f.CloseCode() != 1001 {
			t.Fatalf("the other connection saw %d %v", f.CloseCode(), err)
		}
		b.WriteClose(1001, "")
		select {
		case err := <-shut:
			if err != nil {
				t.Fatalf("Shutdown from a hook: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Shutdown inside an OnClose hook did not return")
		}
		if err := reg.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// Fails before the fix: a deadline beyond what a time.Duration holds from
// the open (a token that expires in the year 9999) wrapped around and the
// timer fired at once.
func TestTimerFarInTheFutureDoesNotFire(t *testing.T) {
	fired := make(chan string, 2)
	h := middleware.Handler(lifecycle.NewRegistry(), func(c *lifecycle.Conn, _ *http.Request) {
		var far, near lifecycle.Timer
		c.StartTimer(&far, time.Until(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)), func() { fired <- "year 9999" })
		c.StartTimer(&near, 20*time.Millisecond, func() { fired <- "20ms" })
		drainHandler(c)
	})
	c, err := wstest.DialRaw(wstest.Server(t, h), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if first := <-fired; first != "20ms" {
		t.Fatalf("the timer due in the year 9999 fired first")
	}
	c.WriteClose(1000, "")
	c.WaitEOF(5 * time.Second)
}
