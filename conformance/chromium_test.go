package conformance

import (
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/wstest"
)

// debianChromium is the browser the suite drives; playwright-core never
// downloads one of its own.
const debianChromium = "/usr/bin/chromium"

// driverConfig is node/page.js's config: pages played one after the
// other in one browser.
type driverConfig struct {
	Chromium  string       `json:"chromium"`
	TimeoutMS int          `json:"timeout_ms"`
	Pages     []pageConfig `json:"pages"`
}

// pageConfig is one page in node/page.js.
type pageConfig struct {
	Name       string   `json:"name"`
	URL        string   `json:"url"`
	Send       string   `json:"send,omitempty"`
	Refresh    bool     `json:"refresh,omitempty"`
	WaitFor    []string `json:"wait_for,omitempty"`
	Screenshot string   `json:"screenshot,omitempty"`
}

// chromiumDriver returns node/page.js (playwright-core driving Debian's
// headless Chromium), or skips (fails when integration is required).
func chromiumDriver(t *testing.T) client {
	t.Helper()
	if _, err := os.Stat(debianChromium); err != nil {
		wstest.Missing(t, "chromium", "apt-get install chromium")
	}
	node := nodeModule(t, "playwright-core")
	script, err := filepath.Abs(filepath.Join(nodeDir, "page.js"))
	if err != nil {
		t.Fatal(err)
	}
	return client{
		name: "chromium",
		argv: []string{node, script},
		env:  []string{"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1"},
	}
}

// pageURL is the demo page preset for subject sub (?query=1 switches the
// page to the ?access_token= form).
func pageURL(ex *example, sub string, query bool) string {
	q := url.Values{"sub": {sub}, "ttl": {"1m"}}
	if query {
		q.Set("query", "1")
	}
	return ex.base + "/?" + q.Encode()
}

// TestChromium opens the demo page in headless Chromium, against one
// example per read mode: it connects (token by subprotocol), sends,
// refreshes its token, the server expires the session, and the page's log
// shows 1008 "session expired" wasClean=true and no reconnect; then, with
// the token in the query, SIGTERM closes it with 1001 and the page
// schedules a jittered reconnect. Screenshots go to the artifacts folder;
// WSMW_UPDATE_SCREENSHOT=1 also copies the first to docs/demo.png.
func TestChromium(t *testing.T) {
	t.Parallel()
	pw := chromiumDriver(t)
	exs := startExamples(t, "chromium",
		"-session-expiry", "6s",
		"-idle-timeout", "1m",
		"-connect-rate", "600",
		"-shutdown-timeout", "5s",
	)
	dir := artifactsDir(t)
	// One browser for every page, played in order: starting Chromium is
	// the slow part.
	cfg := driverConfig{Chromium: debianChromium, TimeoutMS: 30000}
	for _, ex := range exs {
		expiry, shutdown := "chromium-expiry-"+ex.mode, "chromium-shutdown-"+ex.mode
		cfg.Pages = append(cfg.Pages, pageConfig{
			Name:       expiry,
			URL:        pageURL(ex, expiry, false),
			Send:       "hello",
			Refresh:    true,
			WaitFor:    []string{"close code=", "not reconnecting"},
			Screenshot: filepath.Join(dir, "chromium-session-expiry-"+ex.mode+".png"),
		}, pageConfig{
			Name:       shutdown,
			URL:        pageURL(ex, shutdown, true),
			Send:       "hello",
			WaitFor:    []string{"close code=", "reconnecting in"},
			Screenshot: filepath.Join(dir, "chromium-shutdown-"+ex.mode+".png"),
		})
	}
	r := pw.start(t, cfg, time.Duration(len(exs))*90*time.Second)

	for i, ex := range exs {
		t.Run(ex.mode, func(t *testing.T) {
			expiry, shutdown := cfg.Pages[2*i], cfg.Pages[2*i+1]
			t.Run("session expiry", func(t *testing.T) {
				lines := pageLines(t, r, expiry.Name)
				expectLine(t, lines, "open protocol=bearer")
				expectLine(t, lines, "token by subprotocol")
				expectLine(t, lines, `message: {"type":"refreshed"}`)
				expectLine(t, lines, `close code=1008 reason="session expired" wasClean=true`)
				expectLine(t, lines, "not reconnecting: 1008 is final")
				if n := countLines(lines, "close code="); n != 1 {
					t.Errorf("%d close lines, want 1:\n%s", n, strings.Join(lines, "\n"))
				}
				line := ex.closed(t, expiry.Name)
				if line.Code != 1008 || line.Initiator != "local" || !strings.Contains(line.Cause, "session expired") {
					t.Errorf("server logged %s; want code=1008 initiator=local cause \"session expired\"", line)
				}
				t.Logf("screenshot: %s", expiry.Screenshot)
				if i == 0 && os.Getenv("WSMW_UPDATE_SCREENSHOT") == "1" {
					copyFile(t, expiry.Screenshot, filepath.Join("..", "docs", "demo.png"))
				}
			})

			t.Run("token in query, SIGTERM, reconnect", func(t *testing.T) {
				r.nextNamed(t, "ready", shutdown.Name, 60*time.Second)
				ex.sigterm(t)
				lines := pageLines(t, r, shutdown.Name)
				expectLine(t, lines, "token by query ?access_token=")
				expectLine(t, lines, `close code=1001 reason="server shutting down" wasClean=true`)
				expectLine(t, lines, "reconnecting in")
				line := ex.closed(t, shutdown.Name)
				if line.Code != 1001 || line.Initiator != "local" || !strings.Contains(line.Cause, "server shutting down") {
					t.Errorf("server logged %s; want code=1001 initiator=local cause \"server shutting down\"", line)
				}
				if code := ex.waitExit(t, 10*time.Second); code != 0 {
					t.Errorf("exit code after SIGTERM = %d, want 0", code)
				}
			})
		})
	}
	evs := r.wait(t, 30*time.Second)
	for _, e := range find(evs, "pageerror") {
		t.Errorf("page error (%s): %s", e.Name, e.Error)
	}
	for _, e := range find(evs, "error") {
		t.Errorf("driver error (%s): %s", e.Name, e.Error)
	}
	for _, ex := range exs {
		ex.finish(t)
	}
}

// pageLines waits for page.js to report the page name and returns its log
// lines.
func pageLines(t *testing.T, r *run, name string) []string {
	t.Helper()
	return r.nextNamed(t, "page", name, 60*time.Second).Lines
}
func expectLine(t *testing.T, lines []string, want string) {
	t.Helper()
	if countLines(lines, want) == 0 {
		t.Errorf("the page's log has no line with %q:\n%s", want, strings.Join(lines, "\n"))
	}
}

func countLines(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
