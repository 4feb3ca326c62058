package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/wstest"
)

// startExample runs the example in this process on a free port and
// returns its base URL (with a trailing slash) and its log.
func startExample(t *testing.T, args ...string) (string, *wstest.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	logs := new(wstest.Buffer)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0", "-log-format", "json"}, args...), pw, logs)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("example exited %d", code)
			}
		case <-time.After(20 * time.Second):
			t.Error("example did not stop")
		}
	})
	base := readBaseURL(t, pr)
	go io.Copy(io.Discard, pr)
	return base, logs
}

func getToken(t *testing.T, base, sub, ttl string) string {
	t.Helper()
	resp, err := http.Get(base + "token?" + url.Values{"sub": {sub}, "ttl": {ttl}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil || body.Token == "" {
		t.Fatalf("GET /token: %s", resp.Status)
	}
	return body.Token
}

func dialWS(t *testing.T, base, query string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "ws"
	if query != "" {
		u += "?" + query
	}
	ws, resp, err := websocket.DefaultDialer.Dial(u, header)
	if err == nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

func command(t *testing.T, ws *websocket.Conn, v any) map[string]string {
	t.Helper()
	if err := ws.WriteJSON(v); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var reply map[string]string
	if err := ws.ReadJSON(&reply); err != nil {
		t.Fatal(err)
	}
	return reply
}

func closeOf(err error) (int, string) {
	if ce, ok := err.(*websocket.CloseError); ok {
		return ce.Code, ce.Text
	}
	return -1, err.Error()
}

// TestExampleAuthContract walks the auth part of the example's contract,
// in both read modes, and then checks that its log holds no token and no
// query string.
func TestExampleAuthContract(t *testing.T) {
	forEachReadMode(t, func(t *testing.T, mode []string) {
		base, logs := startExample(t, mode...)
		exampleAuthContract(t, base, logs)
	})
}

func exampleAuthContract(t *testing.T, base string, logs *wstest.Buffer) {
	var tokens []string
	tok := func(sub, ttl string) string {
		s := getToken(t, base, sub, ttl)
		tokens = append(tokens, s)
		return s
	}

	// No token, a bad token: 401 with the challenge, no upgrade.
	for _, q := range []string{"", "access_token=" + tok("eve", "1s") + "x"} {
		_, resp, err := dialWS(t, base, q, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("query %q: %v, want 401 with a Bearer challenge", q, err)
		}
	}

	// Token in the query; refresh refused for another subject, then accepted.
	alice, _, err := dialWS(t, base, "access_token="+tok("alice", "2s"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := command(t, alice, map[string]string{"type": "refresh", "token": tok("bob", "1m")}); r["type"] != "error" {
		t.Fatalf("refresh with bob's token: %v", r)
	}
	if r := command(t, alice, map[string]string{"type": "refresh", "token": "garbage"}); r["type"] != "error" {
		t.Fatalf("refresh with garbage: %v", r)
	}
	if r := command(t, alice, map[string]string{"type": "refresh", "token": tok("alice", "1m")}); r["type"] != "refreshed" {
		t.Fatalf("refresh: %v", r)
	}

	// Token by subprotocol: "bearer" is selected, never the token; a short
	// token ends the session with 1008 "token expired" (2 s: exp counts
	// whole seconds, so a 1 s token may have a tenth of a second left when
	// it is minted, less than a loaded machine's handshake).
	d := websocket.Dialer{Subprotocols: []string{"bearer", tok("carol", "2s")}}
	carol, resp, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer carol.Close()
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "bearer" {
		t.Fatalf("subprotocol %q, want bearer", p)
	}
	carol.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := carol.ReadMessage(); err == nil {
		t.Fatal("carol: a message instead of the close")
	} else if code, reason := closeOf(err); code != 1008 || reason != "token expired" {
		t.Fatalf("carol: %d %q, want 1008 token expired", code, reason)
	}

	// Revocation: only dave's connections close, with 1008 "session revoked".
	dave, _, err := dialWS(t, base, "", http.Header{"Authorization": {"Bearer " + tok("dave", "1m")}})
	if err != nil {
		t.Fatal(err)
	}
	// The client has its 101 before the server has registered the
	// connection; an echo proves the handler, so the registration, is there.
	if err := dave.WriteMessage(websocket.TextMessage, []byte("here")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := dave.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	rev, err := http.Post(base+"admin/revoke?sub=dave", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rev.Body)
	rev.Body.Close()
	if rev.StatusCode != http.StatusOK || !strings.Contains(string(body), `"revoked":1`) {
		t.Fatalf("revoke: %s %s", rev.Status, body)
	}
	dave.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := dave.ReadMessage(); err == nil {
		t.Fatal("dave still open")
	} else if code, reason := closeOf(err); code != 1008 || reason != "session revoked" {
		t.Fatalf("dave: %d %q", code, reason)
	}
	if r := command(t, alice, map[string]string{"type": "hello"}); r["type"] != "hello" {
		t.Fatalf("alice after the revocation of dave: %v", r)
	}
	alice.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(time.Second))

	// Every connection's "ws closed" line, then the log must hold no token.
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logs.String(), `"msg":"ws closed"`) < 3 && time.Now().Before(deadline) {
		pollPause() // polling an observable condition with a deadline
	}
	out := logs.String()
	// Refused upgrades are Debug lines (wsmw's refusal log); the example
	// logs at Info, so the two 401s above leave no line.
	for _, want := range []string{`"reason":"token expired"`, `"reason":"session revoked"`, `"msg":"token refreshed"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	for _, tk := range tokens {
		for _, part := range strings.Split(tk, ".")[1:] {
			if strings.Contains(out, part) {
				t.Fatalf("the log holds part of a token:\n%s", out)
			}
		}
	}
	if strings.Contains(out, "access_token") {
		t.Fatalf("the log holds a query string:\n%s", out)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
	}
}

// pollPause is the interval of a poll on an observable condition.
func pollPause() { <-time.After(10 * time.Millisecond) }
