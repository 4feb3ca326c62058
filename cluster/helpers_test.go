package cluster_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/cluster"
	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/ratelimit"
)

// server is one node of a test cluster: a Registry, a Node, and /ws with a
// stand-in auth policy (the subject comes from X-Sub) and, when asked, a
// per-subject cap on a Store.
type server struct {
	t      *testing.T
	reg    *lifecycle.Registry
	node   *cluster.Node
	store  *cluster.Store // nil without a cap
	client redis.UniversalClient
	ws     string
	ended  chan lifecycle.CloseInfo
}

type serverConfig struct {
	capPerSubject int
	failClosed    bool
	opts          []cluster.Option
	// client makes the server's Redis client; nil: newClient(addr).
	client func() redis.UniversalClient
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:         addr,
		DialTimeout:  250 * time.Millisecond,
		ReadTimeout:  500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond,
		MaxRetries:   -1, // the Node retries on its own
	})
}

func startServer(t *testing.T, addr string, cfg serverConfig) *server {
	t.Helper()
	log := testLogger()
	s := &server{t: t, reg: lifecycle.NewRegistry(), ended: make(chan lifecycle.CloseInfo, 16)}
	if cfg.client != nil {
		s.client = cfg.client()
	} else {
		s.client = newClient(addr)
	}
	s.node = cluster.New(s.client, s.reg, append([]cluster.Option{cluster.WithLogger(log)}, cfg.opts...)...)
	var h http.Handler = middleware.Handler(s.reg, conntest.Serve(conntest.Echo), middleware.WithLogger(log))
	h = middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) {
		select {
		case s.ended <- info:
		default: // a test that opens many connections reads none of this
		}
	})(h)
	if cfg.capPerSubject > 0 {
		s.store = cluster.NewStore(s.client, cluster.WithLogger(log))
		opts := []middleware.Option{ratelimit.WithKey(ratelimit.KeyBySubject), ratelimit.WithStore(s.store), middleware.WithLogger(log)}
		if cfg.failClosed {
			opts = append(opts, ratelimit.WithFailClosed())
		}
		h = ratelimit.MaxConns(cfg.capPerSubject, opts...)(h)
	}
	h = subjectFromHeader(h)
	s.ws = wstest.Server(t, h) + "/ws"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.reg.Shutdown(ctx)
		if s.store != nil {
			s.store.Close()
		}
		s.node.Close()
		s.client.Close()
	})
	return s
}

// subjectFromHeader stands for an auth policy: X-Sub is the subject.
func subjectFromHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sub := r.Header.Get("X-Sub"); sub != "" {
			r = policy.WithSubject(r, sub)
		}
		next.ServeHTTP(w, r)
	})
}

// dial connects as subject and waits until the connection is registered
// (the handler echoes only after that).
func (s *server) dial(subject string) *wstest.RawClient {
	s.t.Helper()
	c, err := s.tryDial(subject)
	if err != nil {
		s.t.Fatalf("dial %s: %v", subject, err)
	}
	return c
}

func (s *server) tryDial(subject string) (*wstest.RawClient, error) {
	c, err := wstest.DialRaw(s.ws, http.Header{"X-Sub": {subject}})
	if err != nil {
		return c, err
	}
	s.t.Cleanup(func() { c.Close() })
	alive(s.t, c)
	return c, nil
}

// alive checks that c's connection still echoes.
func alive(t *testing.T, c *wstest.RawClient) {
	t.Helper()
	if err := c.WriteText("ping?"); err != nil {
		t.Fatalf("write: %v", err)
	}
	f, err := c.ReadFrame(5 * time.Second)
	if err != nil || f.Op != wstest.OpText || string(f.Payload) != "ping?" {
		t.Fatalf("connection not alive: %v op=%d %q", err, f.Op, f.Payload)
	}
}

// expectRevoked waits up to within for c's server to close it with 1008
// "session revoked", answers the Close, and returns how long it took.
func expectRevoked(t *testing.T, c *wstest.RawClient, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	f, _, err := c.ReadUntilClose(within)
	if err != nil {
		t.Fatalf("not revoked within %v: %v", within, err)
	}
	took := time.Since(start)
	if f.CloseCode() != 1008 || f.CloseReason() != "session revoked" {
		t.Fatalf("closed with %d %q, want 1008 \"session revoked\"", f.CloseCode(), f.CloseReason())
	}
	c.WriteClose(1008, "")
	c.WaitEOF(5 * time.Second)
	return took
}

func subscribed(s *server) func() bool { return s.node.Subscribed }

// closedAt reads c in the background until its server closes it with 1008
// "session revoked" (answering the Close), and sends how long after since
// that happened; -1 when it did not within 30 s.
func closedAt(c *wstest.RawClient, since time.Time) <-chan time.Duration {
	at := make(chan time.Duration, 1)
	go func() {
		f, _, err := c.ReadUntilClose(30 * time.Second)
		if err != nil || f.CloseCode() != 1008 || f.CloseReason() != "session revoked" {
			at <- -1
			return
		}
		at <- time.Since(since)
		c.WriteClose(1008, "")
		c.WaitEOF(5 * time.Second)
	}()
	return at
}

// responseStatus returns the HTTP status that refused c's upgrade, 0 if
// there was no response.
func responseStatus(c *wstest.RawClient) int {
	if c == nil || c.Response == nil {
		return 0
	}
	return c.Response.StatusCode
}
