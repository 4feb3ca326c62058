package auth_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/conntest"
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
	var buf wstest.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := auth.New(auth.HMAC(secret), middleware.WithLogger(log))
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
	s.url = wstest.Server(t, onClose(a.Middleware(middleware.Handler(reg, conntest.Serve(s.serve), middleware.WithLogger(log))))) + "/ws"

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
	// The four refusals above fit in LogRefusal's process-wide burst:
	// nothing else in this package logs refusals at Debug level.
	for _, want := range []string{`msg="ws upgrade refused" status=401 reason="token expired"`, `reason="invalid signature"`,
		"source=query", "source=header", "token expired", "session revoked", "ws closed"} {
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

// TestRefusalLog: each refused upgrade is one Debug line, "ws upgrade
// refused", with the status, the reason and the token's source, and
// nothing at Info level.
func TestRefusalLog(t *testing.T) {
	t.Parallel()
	var info, debug wstest.Buffer
	var tokens []string
	for _, tc := range []struct {
		buf   *wstest.Buffer
		level slog.Level
	}{{&info, slog.LevelInfo}, {&debug, slog.LevelDebug}} {
		log := slog.New(slog.NewJSONHandler(tc.buf, &slog.HandlerOptions{Level: tc.level}))
		s := newServer(t, auth.HMAC(secret), middleware.WithLogger(log))
		expired := hs(t, "alice", -time.Minute)
		s.refused(nil, "")
		s.refused(nil, "access_token="+expired)
		s.refused(http.Header{"Sec-WebSocket-Protocol": {"bearer, " + expired}}, "")
		anon := hs(t, "", time.Minute)
		s.refused(bearer(anon), "")
		tokens = append(tokens, expired, anon)

		// Upgraded, then closed: the line tells the client saw a 101.
		c := newServer(t, auth.HMAC(secret), middleware.WithLogger(log), auth.WithCloseAfterUpgrade(4401, "Unauthorized")).dial(bearer(expired), "")
		if f, _, err := c.ReadUntilClose(5 * time.Second); err != nil || f.CloseCode() != 4401 {
			t.Fatalf("Close %d (%v), want 4401", f.CloseCode(), err)
		}
	}
	if out := info.String(); out != "" {
		t.Fatalf("refusals logged at Info level:\n%s", out)
	}

	type line struct {
		Level, Msg, Reason, Source, Path, Remote string
		Status                                   int
		CloseCode                                int `json:"close_code"`
	}
	var got []line
	for _, l := range strings.Split(strings.TrimSpace(debug.String()), "\n") {
		var ln line
		if err := json.Unmarshal([]byte(l), &ln); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if ln.Msg != "ws upgrade refused" || ln.Level != "DEBUG" || ln.Path != "/ws" || ln.Remote == "" {
			t.Fatalf("log line %q", l)
		}
		ln.Level, ln.Msg, ln.Path, ln.Remote = "", "", "", ""
		got = append(got, ln)
	}
	// LogRefusal's burst holds these five (and TestLogsHoldNoToken's four).
	want := []line{
		{Status: 401, Reason: "no token"},
		{Status: 401, Reason: "token expired", Source: "query"},
		{Status: 401, Reason: "token expired", Source: "subprotocol"},
		{Status: 401, Reason: "token has no subject", Source: "header"},
		{Status: 101, Reason: "token expired", Source: "header", CloseCode: 4401},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("refusal lines\n%+v\nwant\n%+v\nlog:\n%s", got, want, debug.String())
	}
	out := debug.String()
	if strings.Contains(out, "access_token") {
		t.Fatalf("a query string is in the log:\n%s", out)
	}
	for _, tk := range tokens {
		for _, part := range strings.Split(tk, ".") {
			if strings.Contains(out, part) {
				t.Fatalf("a token part %q is in the log:\n%s", part, out)
			}
		}
	}
}
