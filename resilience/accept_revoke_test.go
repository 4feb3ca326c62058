package resilience_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/internal/wstest"
)

// revokeRounds is how many connections TestExampleRevokeRace revokes.
const revokeRounds = 200

// TestExampleRevokeRace revokes a connection the instant its client has
// read the 101, revokeRounds times, each with a fresh subject (token by
// Authorization: Bearer; POST /admin/revoke from loopback). A revocation
// that starts after the client holds its 101 must reach that connection
// (issue 13, item 5): every round must answer {"revoked":1}, and the
// connection must get 1008 "session revoked" on the wire and in the log.
func TestExampleRevokeRace(t *testing.T) {
	t.Parallel()
	forEachReadModeAtOnce(t, func(t *testing.T, mode []string) {
		ex := startProc(t, append(mode, "-connect-rate", "0", "-max-conns-per-ip", "0")...)
		var misses []string
		for i := range revokeRounds {
			sub := fmt.Sprintf("race-%03d", i)
			hdr := ex.bearer(t, sub)
			revoke := armRevoke(t, ex, sub)
			rc, err := wstest.DialRaw(ex.wsURL(), hdr)
			if err != nil {
				t.Fatalf("round %d: dial: %v", i, err)
			}
			status, body := revoke()
			if status != http.StatusOK || body != `{"revoked":1}` {
				// Missed: show that the connection lives on.
				fate := "then "
				if err := echoText(rc, "still here?"); err == nil {
					fate += "kept echoing"
				} else {
					fate += "echo: " + err.Error()
				}
				misses = append(misses, fmt.Sprintf("%s: POST /admin/revoke answered %d %s, %s", sub, status, body, fate))
				rc.WriteClose(1000, "")
				rc.WaitEOF(5 * time.Second)
				rc.Close()
				continue
			}
			f, before, err := rc.ReadUntilClose(5 * time.Second)
			if err != nil || f.CloseCode() != 1008 || f.CloseReason() != "session revoked" {
				t.Errorf("%s: revoked, but the client read %s (%v), want Close 1008 \"session revoked\"",
					sub, describeFrames(append(before, f)), err)
			}
			rc.WriteClose(f.CloseCode(), "")
			rc.WaitEOF(5 * time.Second)
			rc.Close()
		}
		if len(misses) > 0 {
			t.Errorf("%d of %d revocations issued right after the client read its 101 missed the connection (want 0):\n  %s",
				len(misses), revokeRounds, strings.Join(misses, "\n  "))
		}

		// The log: one line per connection, each the revocation.
		if !wstest.Eventually(15*time.Second, func() bool { return countClosed(ex.closedLines(t)) >= revokeRounds }) {
			t.Errorf("%d \"ws closed\" lines, want %d", countClosed(ex.closedLines(t)), revokeRounds)
		}
		lines := ex.closedLines(t)
		bad := 0
		for i := range revokeRounds {
			sub := fmt.Sprintf("race-%03d", i)
			ls := lines[sub]
			if len(ls) == 1 && ls[0].Code == 1008 && ls[0].Reason == "session revoked" && ls[0].Initiator == "local" && ls[0].Cause == "session revoked" {
				continue
			}
			if bad++; bad <= 10 {
				t.Errorf("%s: logged %v, want one line code=1008 reason=\"session revoked\" initiator=local cause=\"session revoked\"", sub, ls)
			}
		}
		if bad > 10 {
			t.Errorf("… and %d more connections logged otherwise", bad-10)
		}
	})
}

// armRevoke opens a connection to the example and writes all of POST
// /admin/revoke?sub=SUB but the blank line that ends its header; the
// returned function writes that line and returns the answer's status and
// body. So the revocation reaches the server a single write after the 101
// was read, as fast as a client can follow it.
func armRevoke(t *testing.T, ex *proc, sub string) func() (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", ex.host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(c, "POST /admin/revoke?sub=%s HTTP/1.1\r\nHost: %s\r\nContent-Length: 0\r\nConnection: close\r\n", sub, ex.host); err != nil {
		t.Fatal(err)
	}
	return func() (int, string) {
		defer c.Close()
		if _, err := io.WriteString(c, "\r\n"); err != nil {
			t.Fatalf("POST /admin/revoke: %v", err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("POST /admin/revoke: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}
}

// TestExampleRevocationHolds checks what issue 14 (items 3-5) asks of the
// example's revocation and tokens:
//   - after POST /admin/revoke?sub=alice, alice's token is refused at the
//     upgrade: 401 with error_description="token revoked";
//   - a token fetched from /token?sub=alice after the revocation connects
//     and echoes;
//   - a token without sub (or with an empty one) is refused: 401 with
//     error_description="token has no subject";
//   - a cross-origin POST /admin/revoke?sub=bob (Origin:
//     http://evil.example) is refused with 403 and revokes nothing: bob's
//     open connection keeps echoing and his token still connects.
func TestExampleRevocationHolds(t *testing.T) {
	t.Parallel()
	forEachReadModeAtOnce(t, func(t *testing.T, mode []string) {
		ex := startProc(t, mode...)

		t.Run("revoked token refused at the upgrade", func(t *testing.T) {
			hdr := ex.bearer(t, "alice")
			rc, err := wstest.DialRaw(ex.wsURL(), hdr)
			if err != nil {
				t.Fatalf("alice's first connection: %v", err)
			}
			defer rc.Close()
			if err := echoText(rc, "hello"); err != nil {
				t.Fatalf("alice's first connection does not echo: %v", err)
			}
			status, body := ex.post(t, "/admin/revoke?sub=alice", "")
			revokedAt := time.Now()
			if status != http.StatusOK || body != `{"revoked":1}` {
				t.Errorf("POST /admin/revoke?sub=alice: %d %s, want 200 {\"revoked\":1}", status, body)
			}
			f, before, err := rc.ReadUntilClose(5 * time.Second)
			if err != nil || f.CloseCode() != 1008 || f.CloseReason() != "session revoked" {
				t.Errorf("after the revoke alice read %s (%v), want Close 1008 \"session revoked\"", describeFrames(append(before, f)), err)
			}
			rc.WriteClose(f.CloseCode(), "")
			rc.WaitEOF(5 * time.Second)
			rc.Close()
			if line, ok := ex.closedFor(t, "alice", 10*time.Second); !ok || line.Code != 1008 || line.Reason != "session revoked" || line.Initiator != "local" {
				t.Errorf("alice's revoked connection logged %v (found: %v), want code=1008 reason=\"session revoked\" initiator=local", line, ok)
			}

			expectRefused(t, ex, "alice's token after the revoke", hdr, "token revoked")

			// A token issued after the revocation. iat has a resolution of one
			// second (golang-jwt truncates it), so a token minted in the
			// revocation's own second cannot tell whether it came before or
			// after it: wait for the wall clock to reach the next second (at
			// most 1 s; this waits for the clock, not for another goroutine).
			<-time.After(time.Until(revokedAt.Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
			fresh := ex.bearer(t, "alice")
			rc2, err := wstest.DialRaw(ex.wsURL(), fresh)
			if err != nil {
				t.Fatalf("a token fetched after the revoke: %v%s, want 101", err, challengeOf(rc2))
			}
			defer rc2.Close()
			if err := echoText(rc2, "back again"); err != nil {
				t.Errorf("a token fetched after the revoke: connected, but no echo: %v", err)
			}
			closeClean(t, rc2)
		})

		noSub := map[string]jwt.MapClaims{
			"token without sub":   {"iss": demoIssuer, "iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix()},
			"token with sub \"\"": {"iss": demoIssuer, "sub": "", "iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix()},
		}
		for name, claims := range noSub {
			t.Run(name, func(t *testing.T) {
				hdr := http.Header{"Authorization": {"Bearer " + mint(t, claims)}}
				expectRefused(t, ex, name, hdr, "token has no subject")
			})
		}

		t.Run("cross-origin revoke refused", func(t *testing.T) {
			hdr := ex.bearer(t, "bob")
			rc, err := wstest.DialRaw(ex.wsURL(), hdr)
			if err != nil {
				t.Fatalf("bob's connection: %v", err)
			}
			defer rc.Close()
			if err := echoText(rc, "hi"); err != nil {
				t.Fatalf("bob's connection does not echo: %v", err)
			}
			status, body := ex.post(t, "/admin/revoke?sub=bob", "http://evil.example")
			if status != http.StatusForbidden {
				t.Errorf("POST /admin/revoke?sub=bob with Origin: http://evil.example answered %d %s, want 403", status, body)
			}
			if err := echoText(rc, "still here?"); err != nil {
				t.Errorf("after the cross-origin revoke, bob's open connection: %v; want it to keep echoing", err)
			}
			// Nor was the revocation remembered: bob's token still connects.
			rc2, err := wstest.DialRaw(ex.wsURL(), hdr)
			if err != nil {
				t.Errorf("after the cross-origin revoke, bob's token: %v%s, want 101", err, challengeOf(rc2))
			} else {
				closeClean(t, rc2)
			}
			closeClean(t, rc)
			if lines := ex.closedLines(t)["bob"]; len(lines) > 0 && lines[0].Code == 1008 {
				t.Errorf("bob's connection was logged as %v", lines[0])
			}
		})
	})
}

// expectRefused dials with hdr and wants 401 with a Bearer challenge
// whose error_description is desc.
func expectRefused(t *testing.T, ex *proc, what string, hdr http.Header, desc string) {
	t.Helper()
	rc, err := wstest.DialRaw(ex.wsURL(), hdr)
	want := fmt.Sprintf(`want 401 with WWW-Authenticate containing error_description=%q`, desc)
	switch {
	case err == nil:
		fate := "echo works"
		if err := echoText(rc, "should not be here"); err != nil {
			fate = "echo: " + err.Error()
		}
		t.Errorf("%s: 101 Switching Protocols (%s); %s", what, fate, want)
		rc.WriteClose(1000, "")
		rc.WaitEOF(5 * time.Second)
		rc.Close()
	case rc == nil || rc.Response == nil:
		t.Errorf("%s: %v; %s", what, err, want)
	case rc.Response.StatusCode != http.StatusUnauthorized ||
		!strings.Contains(rc.Response.Header.Get("WWW-Authenticate"), fmt.Sprintf("error_description=%q", desc)):
		t.Errorf("%s: %d, WWW-Authenticate: %s; %s", what, rc.Response.StatusCode, rc.Response.Header.Get("WWW-Authenticate"), want)
	}
}

// challengeOf describes a refused handshake's status and challenge.
func challengeOf(rc *wstest.RawClient) string {
	if rc == nil || rc.Response == nil {
		return ""
	}
	return fmt.Sprintf(" (WWW-Authenticate: %s)", rc.Response.Header.Get("WWW-Authenticate"))
}

// echoText sends a text message and waits for it to come back; a Close frame
// or anything but the echo (pings aside) is an error.
func echoText(rc *wstest.RawClient, msg string) error {
	if err := rc.WriteText(msg); err != nil {
		return err
	}
	for {
		f, err := rc.ReadFrame(5 * time.Second)
		switch {
		case err != nil:
			return fmt.Errorf("no echo: %w", err)
		case f.Op == wstest.OpPing:
			rc.WriteFrame(wstest.OpPong, true, f.Payload)
		case f.Op == wstest.OpText && string(f.Payload) == msg:
			return nil
		default:
			return errors.New("read " + describeFrame(f) + " instead of the echo")
		}
	}
}

// closeClean closes with 1000 and waits for the server's answer and EOF.
func closeClean(t *testing.T, rc *wstest.RawClient) {
	t.Helper()
	rc.WriteClose(1000, "")
	if _, err := rc.WaitEOF(5 * time.Second); err != nil {
		t.Errorf("close handshake: %v", err)
	}
	rc.Close()
}

// countClosed counts "ws closed" lines.
func countClosed(lines map[string][]closedLine) int {
	n := 0
	for _, ls := range lines {
		n += len(ls)
	}
	return n
}
