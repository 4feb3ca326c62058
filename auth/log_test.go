package auth_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// TestLogsHoldNoToken runs every path that logs — accepted and refused
// tokens from each source, an expiry, a refresh, a refused refresh, a
// revocation — with the policy's, the upgrader's and a close hook's logs in
// one buffer, and looks for any part of any token in it.
func TestLogsHoldNoToken(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := auth.New(auth.HMAC(secret), auth.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	reg := lifecycle.NewRegistry()
	s := &server{t: t, reg: reg, closed: make(chan closeEvent, 100)}
	onClose := middleware.OnClose(func(c *lifecycle.Conn, info lifecycle.CloseInfo) {
		cause := ""
		if info.Cause != nil {
			cause = info.Cause.Error()
		}
		log.Info("ws closed", "code", int(info.Code), "reason", info.Reason, "initiator", info.Initiator.String(),
			"cause", cause, "subject", c.Subject())
		s.closed <- closeEvent{subject: c.Subject(), info: info}
	})
	s.url = wstest.Server(t, onClose(a.Middleware(middleware.Handler(reg, s.serve, middleware.WithLogger(log))))) + "/ws"

	var tokens []string
	tok := func(sub string, ttl time.Duration) string {
		tk := hs(t, sub, ttl)
		tokens = append(tokens, tk)
		return tk
	}
	short := s.dial(nil, "access_token="+tok("alice", time.Second))
	sub := s.dial(http.Header{"Sec-WebSocket-Protocol": {"bearer, " + tok("bob", time.Minute)}}, "")
	hdr := s.dial(bearer(tok("carol", time.Minute)), "")
	roundTrip(t, hdr, command{Type: "refresh", Token: tok("carol", 2*time.Minute)})
	roundTrip(t, hdr, command{Type: "refresh", Token: tok("dave", 2*time.Minute)})
	for _, bad := range []string{tok("eve", -time.Minute), tok("eve", time.Minute) + "x"} {
		if c, err := wstest.DialRaw(s.url+"?access_token="+bad+"&x=1", nil); err == nil {
			c.Close()
			t.Fatal("bad token upgraded")
		}
		if c, err := wstest.DialRaw(s.url, bearer(bad)); err == nil {
			c.Close()
			t.Fatal("bad token upgraded")
		}
	}
	if _, _, err := short.ReadUntilClose(5 * time.Second); err != nil {
		t.Fatalf("expiry: %v", err)
	}
	short.WriteClose(1008, "")
	reg.Revoke("bob")
	sub.ReadUntilClose(5 * time.Second)
	sub.WriteClose(1008, "")
	s.next()
	s.next()
	hdr.Close()
	s.next()

	out := buf.String()
	for _, want := range []string{"ws auth refused", "token expired", "session revoked", "ws closed"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, tk := range tokens {
		for _, part := range strings.Split(tk, ".") {
			if strings.Contains(out, part) {
				t.Fatalf("a token part %q is in the log:\n%s", part, out)
			}
		}
	}
	if strings.Contains(out, "access_token") || strings.Contains(out, "x=1") {
		t.Fatalf("a query string is in the log:\n%s", out)
	}
}
