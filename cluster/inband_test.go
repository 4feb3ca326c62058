package cluster_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw/cluster"
	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/ratelimit"
)

// inbandNode is a server whose stand-in auth policy takes the subject from
// X-Sub at the upgrade, or, without it, marks the subject pending; the
// handler then sets it from the first message "sub <name>" (as in-band
// authentication does), answering "ok" or "refused: <error>", and echoes.
type inbandNode struct {
	ws       string
	refusals chan error
	ended    chan lifecycle.CloseInfo
}

func startInbandNode(t *testing.T, addr string, capPerSubject int) *inbandNode {
	t.Helper()
	log := testLogger()
	n := &inbandNode{refusals: make(chan error, 16), ended: make(chan lifecycle.CloseInfo, 16)}
	reg := lifecycle.NewRegistry()
	client := newClient(addr)
	store := cluster.NewStore(client, cluster.WithLogger(log))
	var h http.Handler = middleware.Handler(reg, conntest.Serve(func(c *lifecycle.Conn) {
		if c.Subject() == "" {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			reply := "ok"
			if err := c.SetSubject(strings.TrimPrefix(string(msg), "sub ")); err != nil {
				reply = "refused: " + err.Error()
				n.refusals <- err
			}
			c.WriteMessage(lifecycle.TextMessage, []byte(reply))
		}
		conntest.Echo(c)
	}), middleware.WithLogger(log))
	capped := ratelimit.MaxConns(capPerSubject, ratelimit.WithKey(ratelimit.KeyBySubject), ratelimit.WithStore(store), middleware.WithLogger(log))(h)
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { // the stand-in auth policy
		if sub := r.Header.Get("X-Sub"); sub != "" {
			r = policy.WithSubject(r, sub)
		} else {
			r = policy.WithSubjectPending(r)
		}
		capped.ServeHTTP(w, r)
	})
	h = middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { n.ended <- info })(h)
	n.ws = wstest.Server(t, h) + "/ws"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		reg.Shutdown(ctx)
		store.Close()
		client.Close()
	})
	return n
}

// inBand opens a connection without a subject and names subject in band;
// it returns the connection and the answer.
func (n *inbandNode) inBand(t *testing.T, subject string) (*wstest.RawClient, string) {
	t.Helper()
	c, err := wstest.DialRaw(n.ws, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.WriteText("sub " + subject); err != nil {
		t.Fatal(err)
	}
	f, err := c.ReadFrame(5 * time.Second)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	return c, string(f.Payload)
}

// TestInBandCapAcrossNodes: a per-subject cap of 2 on the Redis store
// counts connections whose subject is set in band, on any node, with those
// whose subject was known at the upgrade; a slot freed on one node lets an
// in-band connection in on the other.
func TestInBandCapAcrossNodes(t *testing.T) {
	addr, _ := wstest.StartRedis(t)
	a := startInbandNode(t, addr, 2)
	b := startInbandNode(t, addr, 2)

	atUpgrade, err := wstest.DialRaw(a.ws, http.Header{"X-Sub": {"alice"}})
	if err != nil {
		t.Fatalf("alice at the upgrade: %v", err)
	}
	defer atUpgrade.Close()
	alive(t, atUpgrade)
	if _, got := b.inBand(t, "alice"); got != "ok" {
		t.Fatalf("alice in band on b: %q", got)
	}
	for _, n := range []*inbandNode{a, b} {
		c, got := n.inBand(t, "alice")
		if !strings.HasPrefix(got, "refused: too many connections") {
			t.Fatalf("alice's third connection: %q", got)
		}
		if err := <-n.refusals; !errors.Is(err, ratelimit.ErrTooManyConnections) {
			t.Fatalf("SetSubject: %v", err)
		}
		alive(t, c) // refused, still open
	}
	if c, err := wstest.DialRaw(b.ws, http.Header{"X-Sub": {"alice"}}); err == nil || c == nil || c.Response.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("alice at the upgrade on b: %v, want 429", err)
	}
	if _, got := a.inBand(t, "bob"); got != "ok" {
		t.Fatalf("bob: %q", got)
	}

	atUpgrade.WriteClose(1000, "")
	atUpgrade.ReadUntilClose(5 * time.Second)
	<-a.ended
	wstest.WaitFor(t, "alice's slot to come back", 5*time.Second, func() bool {
		c, got := b.inBand(t, "alice")
		if got != "ok" {
			<-b.refusals
			c.WriteClose(1000, "")
			return false
		}
		return true
	})
}
