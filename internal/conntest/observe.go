package conntest

import (
	"net/http"
	"strconv"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
)

// Deny is a policy for the tests of the modules that observe connections:
// it refuses an upgrade request with the status in its X-Deny header,
// reported as wsmw's policies report theirs ([policy.LogRefusal], reason
// "denied by the test"), and carries the subject in X-Sub.
func Deny(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := r.Header.Get("X-Deny"); s != "" {
			code, _ := strconv.Atoi(s)
			policy.LogRefusal(nil, r, code, "denied by the test")
			http.Error(w, http.StatusText(code), code)
			return
		}
		if sub := r.Header.Get("X-Sub"); sub != "" {
			r = policy.WithSubject(r, sub)
		}
		next.ServeHTTP(w, r)
	})
}

// Script echoes, and obeys a few commands: "quit" returns (1000), "4408"
// closes with 4408, "panic" panics (1011), "decide" reports a decision
// about the connection ([policy.ReportDecision], "token_refreshed", as
// an auth policy would) before its echo.
func Script(c *lifecycle.Conn) {
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		switch string(msg) {
		case "quit":
			return
		case "4408":
			c.Close(4408, "connection initialisation timeout")
			continue
		case "panic":
			panic("scripted panic")
		case "decide":
			policy.ReportDecision(c.Context(), policy.Decision{Name: "token_refreshed", Reason: "scripted"})
		}
		if c.WriteMessage(mt, msg) != nil {
			return
		}
	}
}
