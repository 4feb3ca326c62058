package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// postRevoke sends POST /admin/revoke?sub=sub with header and returns the
// status and the body.
func postRevoke(t *testing.T, base, sub string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"admin/revoke?sub="+sub, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// TestAdminRevokeRefusesCrossOrigin: a browser's cross-site POST (any page
// open on this host can send one to the loopback) gets 403 with a reason
// and revokes nothing; the same request from this server's own origin, or
// from curl (no Origin), revokes.
func TestAdminRevokeRefusesCrossOrigin(t *testing.T) {
	base, _ := startExample(t)
	self := strings.TrimSuffix(base, "/")
	dial := func(sub string) *websocket.Conn {
		ws, _, err := dialWS(t, base, "", http.Header{"Authorization": {"Bearer " + getToken(t, base, sub, "1m")}})
		if err != nil {
			t.Fatal(err)
		}
		if r := command(t, ws, map[string]string{"type": "hello"}); r["type"] != "hello" {
			t.Fatalf("echo: %v", r)
		}
		return ws
	}
	mallory := dial("mallory")
	for name, h := range map[string]http.Header{
		"foreign Origin":          {"Origin": {"http://evil.example"}},
		"foreign Origin, port":    {"Origin": {self[:strings.LastIndex(self, ":")] + ":1"}},
		"Origin null":             {"Origin": {"null"}},
		"cross-site fetch":        {"Sec-Fetch-Site": {"cross-site"}},
		"same-site fetch":         {"Sec-Fetch-Site": {"same-site"}},
		"own Origin, cross-site":  {"Origin": {self}, "Sec-Fetch-Site": {"cross-site"}},
		"foreign Origin, no site": {"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"none"}},
	} {
		status, body := postRevoke(t, base, "mallory", h)
		if status != http.StatusForbidden || !strings.Contains(body, "cross-") {
			t.Errorf("%s: %d %q, want 403 saying why", name, status, body)
		}
	}
	if r := command(t, mallory, map[string]string{"type": "hello"}); r["type"] != "hello" {
		t.Fatalf("mallory after refused revokes: %v", r)
	}

	for name, h := range map[string]http.Header{
		"own Origin":           {"Origin": {self}, "Sec-Fetch-Site": {"same-origin"}},
		"curl, no Origin":      nil,
		"typed in, no Origin":  {"Sec-Fetch-Site": {"none"}},
		"own Origin, no fetch": {"Origin": {self}},
	} {
		// A subject per case: once revoked, alice's tokens of that second
		// no longer connect (revocations hold).
		sub := "alice-" + strings.NewReplacer(" ", "-", ",", "").Replace(name)
		ws := dial(sub)
		status, body := postRevoke(t, base, sub, h)
		if status != http.StatusOK || !strings.Contains(body, `"revoked":1`) {
			t.Fatalf("%s: %d %q, want 200 {\"revoked\":1}", name, status, body)
		}
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := ws.ReadMessage(); err == nil {
			t.Fatalf("%s: alice still open", name)
		} else if code, reason := closeOf(err); code != 1008 || reason != "session revoked" {
			t.Fatalf("%s: alice closed with %d %q", name, code, reason)
		}
	}
}

// TestAdminRefusal covers what the loopback example cannot send: a client
// that is not on the loopback, and a Host that is not a loopback name.
func TestAdminRefusal(t *testing.T) {
	for _, tc := range []struct {
		name, remote, host string
		header             http.Header
		refused            string // part of the reason, "" for allowed
	}{
		{"loopback v4", "127.0.0.1:5000", "127.0.0.1:8080", nil, ""},
		{"loopback v6", "[::1]:5000", "[::1]:8080", nil, ""},
		{"localhost", "127.0.0.1:5000", "LOCALHOST:8080", http.Header{"Origin": {"http://localhost:8080"}}, ""},
		{"no port", "127.0.0.1:5000", "localhost", nil, ""},
		{"LAN client", "192.0.2.7:5000", "127.0.0.1:8080", nil, "loopback clients only"},
		{"v6 client", "[2001:db8::1]:5000", "127.0.0.1:8080", nil, "loopback clients only"},
		{"bad address", "nonsense", "127.0.0.1:8080", nil, "loopback clients only"},
		{"DNS rebinding", "127.0.0.1:5000", "evil.example:8080", http.Header{"Origin": {"http://evil.example:8080"}}, "loopback Host"},
		{"foreign Origin", "127.0.0.1:5000", "127.0.0.1:8080", http.Header{"Origin": {"http://evil.example"}}, "cross-origin"},
		{"other scheme-less Origin", "127.0.0.1:5000", "127.0.0.1:8080", http.Header{"Origin": {"127.0.0.1:8080"}}, "cross-origin"},
		{"cross-site", "127.0.0.1:5000", "127.0.0.1:8080", http.Header{"Sec-Fetch-Site": {"cross-site"}}, "Sec-Fetch-Site"},
	} {
		r := httptest.NewRequest(http.MethodPost, "http://"+tc.host+"/admin/revoke?sub=alice", nil)
		r.RemoteAddr, r.Host = tc.remote, tc.host
		for k, v := range tc.header {
			r.Header[k] = v
		}
		got := adminRefusal(r)
		if tc.refused == "" && got != "" || !strings.Contains(got, tc.refused) {
			t.Errorf("%s: refusal %q, want %q", tc.name, got, tc.refused)
		}
		if tc.refused == "" {
			continue
		}
		// revoke answers 403 with the reason before it touches the app.
		w := httptest.NewRecorder()
		new(authPart).revoke(nil, w, r)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), tc.refused) || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("%s: %d %q (%s), want 403 text saying %q", tc.name, w.Code, w.Body, w.Header().Get("Content-Type"), tc.refused)
		}
	}
}
