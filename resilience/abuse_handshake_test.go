package resilience_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/wstest"
)

// The example's http.Server settings (example/main.go) that these tests
// hold it to.
const (
	exampleReadHeaderTimeout = 5 * time.Second
	exampleMaxHeaderBytes    = 16 << 10
)

// upgradeRequest is an opening handshake as raw HTTP/1.1: the standard
// fields, with set overriding them (an empty value drops a field).
func upgradeRequest(host string, set map[string]string) string {
	fields := map[string]string{
		"Host":                  host,
		"Upgrade":               "websocket",
		"Connection":            "Upgrade",
		"Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key":     base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")),
	}
	for k, v := range set {
		fields[k] = v
	}
	var b strings.Builder
	b.WriteString("GET /ws HTTP/1.1\r\n")
	for k, v := range fields {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

// roundTrip writes req on a new connection to host, reads the response
// and closes the connection.
func roundTrip(t *testing.T, host, req string) *http.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	written := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, req)
		written <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	resp.Body.Close()
	<-written // a refused request may be cut short: the write error does not matter
	return resp
}

// TestSlowlorisHandshakeIsCut trickles the headers of 50 upgrade requests
// to the example, a field every 250 ms, and checks that the server hangs
// up on each once ReadHeaderTimeout (5 s) has passed, while it goes on
// serving others.
func TestSlowlorisHandshakeIsCut(t *testing.T) {
	t.Parallel()
	ex := startExample(t)
	const conns = 50
	cut := make(chan time.Duration, conns)
	for i := range conns {
		go func() { cut <- trickle(ex.host, i) }()
	}
	resp, err := plainHTTP.Get(ex.base + "healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz during the attack: %v %v", resp, err)
	}
	resp.Body.Close()
	var longest time.Duration
	for range conns {
		d := <-cut
		if d < exampleReadHeaderTimeout-time.Second || d > exampleReadHeaderTimeout+3*time.Second {
			t.Errorf("a trickling handshake was cut after %v, want about %v", d, exampleReadHeaderTimeout)
		}
		longest = max(longest, d)
	}
	t.Logf("%d trickling handshakes cut, the last after %v", conns, longest.Round(time.Millisecond))
}

// trickle starts an upgrade request and sends one more header field every
// 250 ms, never ending the header block; it returns how long the server
// took to close the connection (or 30 s).
func trickle(host string, i int) time.Duration {
	start := time.Now()
	c, err := net.Dial("tcp", host)
	if err != nil {
		return 0
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n", host)
	closed := make(chan time.Duration, 1)
	go func() {
		c.SetReadDeadline(start.Add(30 * time.Second))
		io.Copy(io.Discard, c)
		closed <- time.Since(start)
	}()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case d := <-closed:
			return d
		case <-tick.C:
			fmt.Fprintf(c, "X-Slow-%d-%d: x\r\n", i, n) // errors once cut: ignored
		}
	}
}

// TestHandshakeAbuse sends malformed and oversized opening handshakes to
// the example and checks each is refused with the right status before any
// WebSocket exists, while a well-formed one still gets 101.
func TestHandshakeAbuse(t *testing.T) {
	t.Parallel()
	ex := startExample(t)
	bearer := "Bearer " + ex.token(t, "abuser")
	key15 := base64.StdEncoding.EncodeToString([]byte("0123456789abcde"))
	cases := []struct {
		name   string
		set    map[string]string
		status []int
	}{
		{"well-formed", map[string]string{"Authorization": bearer}, []int{101}},
		{"headers just under MaxHeaderBytes", map[string]string{"Authorization": bearer, "X-Pad": strings.Repeat("p", exampleMaxHeaderBytes-2048)}, []int{101}},
		{"oversized headers", map[string]string{"Authorization": bearer, "X-Pad": strings.Repeat("p", 2*exampleMaxHeaderBytes)}, []int{431}},
		{"oversized headers without a token", map[string]string{"X-Pad": strings.Repeat("p", 4*exampleMaxHeaderBytes)}, []int{431}},
		{"no Sec-WebSocket-Key", map[string]string{"Authorization": bearer, "Sec-WebSocket-Key": ""}, []int{400}},
		{"Sec-WebSocket-Key not base64", map[string]string{"Authorization": bearer, "Sec-WebSocket-Key": "not base64!"}, []int{400}},
		{"Sec-WebSocket-Key of 15 bytes", map[string]string{"Authorization": bearer, "Sec-WebSocket-Key": key15}, []int{400}},
		{"Sec-WebSocket-Version 8", map[string]string{"Authorization": bearer, "Sec-WebSocket-Version": "8"}, []int{400, 426}},
		{"no Sec-WebSocket-Version", map[string]string{"Authorization": bearer, "Sec-WebSocket-Version": ""}, []int{400, 426}},
		{"no Upgrade field", map[string]string{"Authorization": bearer, "Upgrade": ""}, []int{426}},
		{"no token", nil, []int{401}},
		{"foreign Origin", map[string]string{"Authorization": bearer, "Origin": "https://evil.example"}, []int{403}},
		{"Origin null", map[string]string{"Authorization": bearer, "Origin": "null"}, []int{403}},
		{"same Origin", map[string]string{"Authorization": bearer, "Origin": "http://" + ex.host}, []int{101}},
	}
	versionMissing := false
	for _, tc := range cases {
		resp := roundTrip(t, ex.host, upgradeRequest(ex.host, tc.set))
		ok := false
		for _, s := range tc.status {
			ok = ok || resp.StatusCode == s
		}
		if !ok {
			t.Errorf("%s: status %d, want one of %v", tc.name, resp.StatusCode, tc.status)
		}
		if strings.Contains(tc.name, "Version") && resp.Header.Get("Sec-WebSocket-Version") != "13" {
			versionMissing = true
		}
	}
	// RFC 6455 §4.4: a refused version MUST come with the versions the
	// server speaks. gorilla adds Sec-WebSocket-Version: 13 only without a
	// custom Upgrader.Error, and middleware.NewUpgrader sets one.
	t.Run("refused version names 13", func(t *testing.T) {
		if versionMissing {
			t.Error("a refused version came without Sec-WebSocket-Version: 13")
		}
	})
	// Only the three upgraded connections existed, and each ended once.
	const upgraded = 3
	wstest.Eventually(10*time.Second, func() bool { return len(ex.logLines(t, "ws closed")) >= upgraded })
	if n := len(ex.logLines(t, "ws closed")); n != upgraded {
		t.Errorf("%d connections logged as closed, want the %d upgraded ones", n, upgraded)
	}
}
