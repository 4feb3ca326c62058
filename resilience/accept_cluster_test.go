package resilience_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/wstest"
)

// TestExampleRevocationHoldsAcrossServers (issue 14): two example servers
// on one redis-server. A revoke on server A closes alice's connection on
// server B, her old token is refused on both, on a third server started
// after the revoke too, and a token issued after the revocation connects
// everywhere.
func TestExampleRevocationHoldsAcrossServers(t *testing.T) {
	t.Parallel()
	forEachReadModeAtOnce(t, func(t *testing.T, mode []string) {
		redisAddr, _ := wstest.StartRedis(t)
		a := startProc(t, append(mode, "-redis", redisAddr)...)
		b := startProc(t, append(mode, "-redis", redisAddr)...)
		old := a.bearer(t, "alice") // every server shares -secret: the demo secret

		// alice connected to B; the revoke is made on A.
		onB, err := wstest.DialRaw(b.wsURL(), old)
		if err != nil {
			t.Fatalf("alice on B: %v", err)
		}
		defer onB.Close()
		if err := echoText(onB, "hello"); err != nil {
			t.Fatalf("alice on B does not echo: %v", err)
		}
		status, body := a.post(t, "/admin/revoke?sub=alice", "")
		revokedAt := time.Now()
		if status != http.StatusOK {
			t.Fatalf("POST /admin/revoke on A: %d %s", status, body)
		}
		f, before, err := onB.ReadUntilClose(5 * time.Second)
		if err != nil || f.CloseCode() != 1008 || f.CloseReason() != "session revoked" {
			t.Fatalf("alice on B after the revoke on A read %s (%v), want Close 1008 \"session revoked\"", describeFrames(append(before, f)), err)
		}
		onB.WriteClose(1008, "")
		onB.WaitEOF(5 * time.Second)

		// The old token is refused by both servers, and by one started now.
		c := startProc(t, append(mode, "-redis", redisAddr)...)
		for name, ex := range map[string]*proc{"A": a, "B": b, "C (started after the revoke)": c} {
			deadline := time.Now().Add(5 * time.Second)
			for {
				rc, err := wstest.DialRaw(ex.wsURL(), old)
				if err != nil {
					if ch := challengeOf(rc); rc != nil && rc.Response != nil && rc.Response.StatusCode == http.StatusUnauthorized &&
						containsAll(ch, `error="invalid_token"`, `error_description="token revoked"`) {
						break
					}
					t.Fatalf("server %s, alice's old token: %v%s, want 401 token revoked", name, err, challengeOf(rc))
				}
				// Server C may still be catching up on the stream.
				closeClean(t, rc)
				if time.Now().After(deadline) {
					t.Fatalf("server %s still accepts alice's revoked token after 5s", name)
				}
				<-time.After(50 * time.Millisecond)
			}
		}

		// A token issued after the revocation's second connects everywhere.
		<-time.After(time.Until(revokedAt.Truncate(time.Second).Add(time.Second + 10*time.Millisecond)))
		fresh := b.bearer(t, "alice")
		for name, ex := range map[string]*proc{"A": a, "B": b, "C": c} {
			rc, err := wstest.DialRaw(ex.wsURL(), fresh)
			if err != nil {
				t.Fatalf("server %s, a token issued after the revoke: %v%s", name, err, challengeOf(rc))
			}
			if err := echoText(rc, "back"); err != nil {
				t.Fatalf("server %s: no echo: %v", name, err)
			}
			closeClean(t, rc)
		}
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
