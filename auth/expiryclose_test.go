package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// TestSetExpiryClose: a connection whose close at expiry was set (before
// its session exists, for an in-band token, or after, for one bound at the
// upgrade) closes with that code at exp, cause ErrTokenExpired; the others
// keep the Authenticator's.
func TestSetExpiryClose(t *testing.T) {
	for _, tc := range []struct {
		name       string
		inBand     bool
		set        bool
		wantCode   int
		wantReason string
	}{
		{"upgrade, default", false, false, 1008, "token expired"},
		{"upgrade, set", false, true, 4403, "Forbidden: token expired"},
		{"in band, set before the session", true, true, 4403, "Forbidden: token expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var opts []middleware.Option
				if tc.inBand {
					opts = append(opts, auth.WithTokenOptional())
				}
				a, err := auth.New(auth.HMAC(secret), append(opts, middleware.WithLogger(discardLogger()))...)
				if err != nil {
					t.Fatal(err)
				}
				reg := lifecycle.NewRegistry()
				causes := make(chan error, 1)
				h := middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { causes <- info.Cause })(
					a.Middleware(middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
						if tc.set {
							policy.SetExpiryClose(c, 4403, "Forbidden: token expired")
						}
						if tc.inBand {
							if err := a.Authenticate(c, hs(t, "alice", 10*time.Minute)); err != nil {
								t.Errorf("Authenticate: %v", err)
							}
						}
						for {
							if _, _, err := c.ReadMessage(); err != nil {
								return
							}
						}
					})))
				var header http.Header
				if !tc.inBand {
					header = bearer(hs(t, "alice", 10*time.Minute))
				}
				ws := pipeDial(t, h, header)
				defer ws.Close()
				code, reason, at := readClose(ws)
				if code != tc.wantCode || reason != tc.wantReason || at.Sub(start) != 10*time.Minute {
					t.Fatalf("close %d %q after %v, want %d %q after 10m", code, reason, at.Sub(start), tc.wantCode, tc.wantReason)
				}
				if cause := <-causes; !errors.Is(cause, auth.ErrTokenExpired) {
					t.Fatalf("cause %v, want ErrTokenExpired", cause)
				}
				reg.Shutdown(context.Background())
			})
		})
	}
}

// TestSetExpiryCloseUnsendable: a code that may not go on the wire panics,
// naming it, before any connection could need it.
func TestSetExpiryCloseUnsendable(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "1006") {
			t.Fatalf("recovered %v, want a panic naming 1006", p)
		}
	}()
	policy.SetExpiryClose(nil, 1006, "abnormal")
}
