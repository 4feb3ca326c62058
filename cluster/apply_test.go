package cluster

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// TestApplyOnlyOlderConnections: a revocation closes the subject's
// connections opened before it (plus the skew), never later ones, and
// ignores the node's own revocations.
func TestApplyOnlyOlderConnections(t *testing.T) {
	reg := lifecycle.NewRegistry()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		reg.Shutdown(ctx)
	})
	h := middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})
	url := wstest.Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, policy.WithSubject(r, "alice"))
	}))
	c, err := wstest.DialRaw(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wstest.WaitFor(t, "connections registered", 5*time.Second, func() bool { return reg.Len() == 1 })
	opened := connx.OpenedAt(connx.SubjectConns(reg, "alice")[0])

	n := &Node{reg: reg, id: "me", skew: 0, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	// Made before the connection opened: not applied.
	n.apply(revocation{subject: "alice", before: opened.Add(-time.Second).UnixMilli(), origin: "other"})
	// This node's own: already applied by Revoke, not again.
	n.apply(revocation{subject: "alice", before: opened.Add(time.Second).UnixMilli(), origin: "me"})
	// Another subject's.
	n.apply(revocation{subject: "bob", before: opened.Add(time.Second).UnixMilli(), origin: "other"})
	if reg.Len() != 1 {
		t.Fatal("a revocation closed a connection it does not concern")
	}
	// Within the skew: applied.
	n.skew = 2 * time.Second
	n.apply(revocation{subject: "alice", before: opened.Add(-time.Second).UnixMilli(), origin: "other"})
	f, _, err := c.ReadUntilClose(5 * time.Second)
	if err != nil || f.CloseCode() != 1008 || f.CloseReason() != "session revoked" {
		t.Fatalf("close: %v %d %q", err, f.CloseCode(), f.CloseReason())
	}
	c.WriteClose(1008, "")
}

func TestMessages(t *testing.T) {
	rv, err := parseMessage("1700000000000-3 1699999999999 abc/e.1 alice in wonderland")
	if err != nil || rv.id != (streamID{1700000000000, 3}) || rv.before != 1699999999999 || rv.origin != "abc" || rv.epoch != "e.1" || rv.subject != "alice in wonderland" {
		t.Fatalf("parseMessage = %+v, %v", rv, err)
	}
	for _, bad := range []string{"", "1-0 5 x", "x-0 5 o s", "1-0 x o s", "10 5 o s"} {
		if _, err := parseMessage(bad); err == nil {
			t.Errorf("parseMessage(%q) succeeded", bad)
		}
	}
	if _, err := parseEntry("5-1", map[string]any{"s": "alice"}); err == nil {
		t.Error("entry without b accepted")
	}
	id := streamID{5, ^uint64(0)}
	if id.next() != (streamID{6, 0}) || !id.less(id.next()) || id.next().less(id) {
		t.Error("next/less")
	}
	if s := (streamID{7, 2}).String(); s != "7-2" {
		t.Errorf("String = %q", s)
	}
}

// TestKnownRepublishedOnce: a revocation published again after a loss is
// no longer to publish, even when the new stream's ID is lower than the
// one the lost stream had given it (a master whose clock is behind).
func TestKnownRepublishedOnce(t *testing.T) {
	n := &Node{reg: lifecycle.NewRegistry(), id: "me", retention: 10, skew: time.Second}
	n.known.init()
	now := time.Now().UnixMilli()
	n.noteLocked(revocation{id: streamID{ms: uint64(now), seq: 5}, subject: "alice", before: now})
	n.lostLocked(streamID{})
	again := n.republishLocked(10)
	if len(again) != 1 || again[0].subject != "alice" || again[0].before != now {
		t.Fatalf("to publish again: %+v", again)
	}
	again[0].id = streamID{ms: uint64(now) - 100} // lower than before the loss
	n.noteLocked(again[0])
	if again := n.republishLocked(10); len(again) != 0 {
		t.Fatalf("published again, still to publish: %+v", again)
	}
}
