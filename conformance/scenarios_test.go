package conformance

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// closeGroupFlags are the example's short timings for the socket clients'
// close scenarios: sessions end after 8 s, idle connections after 3 s, the
// server pings every 500 ms (real clients answer on their own; pongs must
// not count as activity), messages over 1 KiB are too big, and more than
// 10 messages in a burst (5/s sustained) is a flood. The margins are wide
// because CI runs this beside every other package's tests on two cores: a
// client that ticks every 250 ms must never look idle, and a short token
// must still be valid when its client finally connects.
var closeGroupFlags = []string{
	"-session-expiry", "8s",
	"-idle-timeout", "3s",
	"-ping-interval", "500ms",
	"-pong-timeout", "3s",
	"-max-message-size", "1024",
	"-msg-rate", "5",
	"-msg-burst", "10",
	"-connect-rate", "600",
	"-max-conns-per-ip", "50",
	"-shutdown-timeout", "5s",
}

// closeWant is what a scenario expects on both sides of a close.
type closeWant struct {
	code      int
	reason    string
	initiator string // in the server's "ws closed" line
	cause     string // substring of the line's cause
}

// scenario is one connection played by a socket client (python or node).
type scenario struct {
	name string
	ttl  string // token lifetime; default 1m
	// config builds the client's config; tok is a fresh token for sub.
	config func(ex *example, sub, tok string) (clientConfig, error)
	// during runs after the client reports "ready" (revoke, SIGTERM).
	during func(ex *example, sub string) error
	want   closeWant
	// status, when not 0, means the handshake must fail with this HTTP
	// status and no connection (so no "ws closed" line) exists.
	status int
	// check adds scenario-specific checks on the client's events.
	check func(t *testing.T, evs []event, line closedLine)
	// subject overrides the subject expected in the server's line.
	subject func(ex *example, sub string) string
}

// bearer is the token-by-subprotocol form: "bearer" and the token as two
// offers.
func bearer(ex *example, tok string) clientConfig {
	return clientConfig{URL: ex.wsURL, Protocols: []string{"bearer", tok}}
}

// closeScenarios are the scenarios every socket client plays against one
// example started with closeGroupFlags.
var closeScenarios = []scenario{
	{
		name: "session expiry",
		config: func(ex *example, sub, tok string) (clientConfig, error) {
			c := bearer(ex, tok)
			c.Hello, c.TickMS = true, 250 // stay active: only the session's lifetime may end it
			return c, nil
		},
		want: closeWant{1008, "session expired", "local", "session expired"},
		check: func(t *testing.T, evs []event, line closedLine) {
			if open := find(evs, "open"); len(open) == 1 && open[0].Protocol != "bearer" {
				t.Errorf("selected subprotocol = %q, want bearer (the token must never be echoed)", open[0].Protocol)
			}
			if line.Duration < 7500*time.Millisecond {
				t.Errorf("session lasted %v, want about 8s", line.Duration)
			}
		},
	},
	{
		name: "idle timeout",
		config: func(ex *example, sub, tok string) (clientConfig, error) {
			c := bearer(ex, tok)
			c.Hello = true // then silent; the server's pings and our pongs must not count
			return c, nil
		},
		want: closeWant{1001, "idle timeout", "local", "idle"},
		check: func(t *testing.T, evs []event, line closedLine) {
			// About 3 s after the echo, plus the close handshake; well before
			// the 8 s session would end.
			if line.Duration > 7500*time.Millisecond {
				t.Errorf("idle close after %v, want about 3s", line.Duration)
			}
		},
	},
	{
		name: "oversize message",
		config: func(ex *example, sub, tok string) (clientConfig, error) {
			c := bearer(ex, tok)
			c.Hello, c.PayloadSize = true, 4096
			return c, nil
		},
		want: closeWant{1009, "message too big", "local", "too big"},
	},
	{
		name: "message flood",
		config: func(ex *example, sub, tok string) (clientConfig, error) {
			c := bearer(ex, tok)
			c.Hello, c.Flood = true, 100
			return c, nil
		},
		want: closeWant{1008, "rate limit exceeded", "local", "rate limit"},
	},
	{
		name: "refresh keeps the session",
		ttl:  "6s", // exp is cut to whole seconds: 5-6 s, before the 8 s session ends, unless refreshed
		config: func(ex *example, sub, tok string) (clientConfig, error) {
			c := bearer(ex, tok)
			fresh, err := ex.tokenErr(sub, "1m")
			c.Hello, c.RefreshBad, c.Refresh, c.TickMS = true, true, fresh, 250
			return c, err
		},
		// Not "token expired": the refreshed token outlives the session.
		want: closeWant{1008, "session expired", "local", "session expired"},
		check: func(t *testing.T, evs []event, line closedLine) {
			var refused, refreshed bool
			for _, e := range find(evs, "message") {
				refused = refused || strings.Contains(e.Data, `"error"`)
				refreshed = refreshed || strings.Contains(e.Data, `"refreshed"`)
			}
			if !refused || !refreshed {
				t.Errorf("want a refused bad refresh and a good one; got refused=%v refreshed=%v", refused, refreshed)
			}
		},
	},
	{
		name: "token expiry",
		ttl:  "6s", // 5-6 s: the token ends before the 8 s session
		config: func(ex *example, sub, tok string) (clientConfig, error) {
			c := bearer(ex, tok)
			c.Hello, c.TickMS = true, 250
			return c, nil
		},
		want: closeWant{1008, "token expired", "local", "expired"},
	},
	{
		name: "revoke",
		config: func(ex *example, sub, tok string) (clientConfig, error) {
			c := bearer(ex, tok)
			c.Hello, c.TickMS = true, 250
			return c, nil
		},
		during: func(ex *example, sub string) error { return ex.revokeErr(sub) },
		want:   closeWant{1008, "session revoked", "local", "session revoked"},
	},
	{
		name: "client closes, token in query",
		config: func(ex *example, sub, tok string) (clientConfig, error) {
			return clientConfig{URL: ex.wsURL + "?access_token=" + tok, Hello: true, Close: []any{1000, "bye"}}, nil
		},
		want: closeWant{1000, "bye", "peer", "peer"},
	},
	{
		name: "banner token by header",
		config: func(ex *example, sub, tok string) (clientConfig, error) {
			banner, err := ex.bannerTokenErr()
			return clientConfig{
				URL:     ex.wsURL,
				Headers: map[string]string{"Authorization": "Bearer " + banner},
				Hello:   true,
				Close:   []any{1000, "done"},
			}, err
		},
		subject: func(ex *example, sub string) string {
			tok, _ := ex.bannerTokenErr()
			return jwtSubject(tok)
		},
		want: closeWant{1000, "done", "peer", "peer"},
	},
	{
		name: "no token",
		config: func(ex *example, sub, tok string) (clientConfig, error) {
			return clientConfig{URL: ex.wsURL}, nil
		},
		status: 401,
		check: func(t *testing.T, evs []event, _ closedLine) {
			if r := find(evs, "unexpected-response"); len(r) == 1 && !strings.HasPrefix(r[0].WWWAuthenticate, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", r[0].WWWAuthenticate)
			}
		},
	},
	{
		name: "bad token",
		config: func(ex *example, sub, tok string) (clientConfig, error) {
			return clientConfig{URL: ex.wsURL, Protocols: []string{"bearer", "not.a.token"}}, nil
		},
		status: 401,
	},
	{
		name: "foreign origin",
		config: func(ex *example, sub, tok string) (clientConfig, error) {
			c := bearer(ex, tok)
			c.Origin = "http://evil.example"
			return c, nil
		},
		status: 403,
	},
}

// shutdownScenario is played last: SIGTERM while the client is connected.
var shutdownScenario = scenario{
	name: "SIGTERM",
	config: func(ex *example, sub, tok string) (clientConfig, error) {
		c := bearer(ex, tok)
		c.Hello = true
		return c, nil
	},
	during: func(ex *example, sub string) error { return ex.sigtermErr() },
	want:   closeWant{1001, "server shutting down", "local", "server shutting down"},
}

// runCloseGroup plays every close scenario with c against one example
// per read mode, all at once (they mostly wait for timers, so -parallel
// must not serialize them, nor the modes), then SIGTERM, then checks each
// example's whole log and exit.
func runCloseGroup(t *testing.T, c client, prefix string) {
	exs := startExamples(t, prefix, closeGroupFlags...)
	runs := make([][]*launched, len(exs))
	for i, ex := range exs {
		for _, sc := range closeScenarios {
			runs[i] = append(runs[i], launch(t, ex, c, sc, prefix+"-"+ex.mode+"-"+slug(sc.name)))
		}
	}
	for i, ex := range exs {
		t.Run(ex.mode, func(t *testing.T) {
			t.Run("close", func(t *testing.T) {
				for _, l := range runs[i] {
					t.Run(l.sc.name, func(t *testing.T) { l.verify(t, ex) })
				}
			})
			t.Run(shutdownScenario.name, func(t *testing.T) {
				launch(t, ex, c, shutdownScenario, prefix+"-"+ex.mode+"-shutdown").verify(t, ex)
				if code := ex.waitExit(t, 10*time.Second); code != 0 {
					t.Errorf("exit code after SIGTERM = %d, want 0", code)
				}
			})
			ex.finish(t)
		})
	}
}

// launched is a scenario whose client is running.
type launched struct {
	sc     scenario
	sub    string
	r      *run
	err    error      // setting the scenario up failed
	during chan error // the result of sc.during, when it has one
}

// launch gets a token, builds the config and starts the client; errors
// are kept for verify, so one scenario's failure stays its own.
func launch(t *testing.T, ex *example, c client, sc scenario, sub string) *launched {
	l := &launched{sc: sc, sub: sub}
	ttl := sc.ttl
	if ttl == "" {
		ttl = "1m"
	}
	tok, err := ex.tokenErr(sub, ttl)
	if err != nil {
		l.err = err
		return l
	}
	cfg, err := sc.config(ex, sub, tok)
	if err != nil {
		l.err = err
		return l
	}
	cfg.TimeoutMS = 12000
	l.r = c.start(t, cfg, 20*time.Second)
	// Start the clients one at a time: a dozen interpreters starting at once
	// on two cores can take seconds, longer than the short tokens live.
	l.r.events.await(10*time.Second, func(evs []event) bool { return len(evs) > 0 })
	if sc.during != nil {
		l.during = make(chan error, 1)
		go func() {
			if !l.r.events.await(10*time.Second, func(evs []event) bool { return len(find(evs, "ready")) > 0 }) {
				l.during <- errors.New("the client never reported ready")
				return
			}
			l.during <- sc.during(ex, sub)
		}()
	}
	return l
}

// verify checks both sides of one launched scenario.
func (l *launched) verify(t *testing.T, ex *example) {
	t.Helper()
	sc := l.sc
	if l.err != nil {
		t.Fatal(l.err)
	}
	r := l.r
	if sc.status != 0 {
		evs := r.wait(t, 20*time.Second)
		resp := find(evs, "unexpected-response")
		if len(resp) != 1 || resp[0].Status != sc.status {
			t.Fatalf("want the handshake refused with HTTP %d; events:\n%s", sc.status, r.transcript())
		}
		if len(find(evs, "open")) != 0 {
			t.Errorf("the connection opened; want HTTP %d", sc.status)
		}
		if sc.check != nil {
			sc.check(t, evs, closedLine{})
		}
		return
	}
	evs := r.wait(t, 20*time.Second)
	if l.during != nil {
		if err := <-l.during; err != nil {
			t.Errorf("during the connection: %v", err)
		}
	}
	closes := find(evs, "close")
	if len(closes) != 1 {
		t.Fatalf("want one close event; events:\n%s", r.transcript())
	}
	for _, e := range find(evs, "error") {
		t.Errorf("client error: %s", e.Error)
	}
	got := closes[0]
	clientReason := sc.want.reason
	if sc.want.initiator == "peer" && got.Reason == "" {
		clientReason = "" // the server may echo the client's code without its reason (RFC 6455 §5.5.1)
	}
	if got.Code != sc.want.code || got.Reason != clientReason || !got.WasClean {
		t.Errorf("client saw close code=%d reason=%q wasClean=%v; want code=%d reason=%q wasClean=true",
			got.Code, got.Reason, got.WasClean, sc.want.code, sc.want.reason)
	}
	subject := l.sub
	if sc.subject != nil {
		subject = sc.subject(ex, l.sub)
	}
	line := ex.closed(t, subject)
	if line.Code != sc.want.code || line.Reason != sc.want.reason || line.Initiator != sc.want.initiator ||
		!strings.Contains(line.Cause, sc.want.cause) {
		t.Errorf("server logged %s; want code=%d reason=%q initiator=%s cause containing %q",
			line, sc.want.code, sc.want.reason, sc.want.initiator, sc.want.cause)
	}
	if sc.check != nil {
		sc.check(t, evs, line)
	}
}

func slug(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}
