package tools

import (
	"go/doc/comment"
	"strings"
	"testing"
)

// TestCheckerCatchesStaleNames makes sure the doc checks fail where they
// should: each line below names something that does not exist, in one of
// the forms the checks resolve, and each must be reported.
func TestCheckerCatchesStaleNames(t *testing.T) {
	r := load(t)
	lifecycle := r.byPath["github.com/wsmw/wsmw/lifecycle"]
	if lifecycle == nil {
		t.Fatal("lifecycle not loaded")
	}
	c := &checker{r: r, current: lifecycle.Types, imports: map[string]string{},
		parser: &comment.Parser{LookupSym: func(recv, name string) bool { return resolve(lifecycle.Types, nonEmpty(recv, name)) }}}
	stale := []string{
		"See [Conn.NoSuchMethod].",
		"Use [http.NoSuchThing].",
		"Made by NewConnection.",
		"Set with auth.WithNoSuchOption.",
		"Call `c.NoSuchMethod()` first.",
		"Call `reg.NoSuchMethod` first.",
		"Use `wsmw.NoSuchPolicy(3)`.",
		"Use `NoSuchOption`.",
		"Example:\n\n\tr.Use(wsmw.NoSuchPolicy(3))\n",
	}
	for _, text := range stale {
		if problems := c.comment(text); len(problems) == 0 {
			t.Errorf("not reported: %q", text)
		}
	}
	fine := []string{
		"See [Conn.CloseWith] and [CloseInfo].",
		"Made by [NewRegistry]; see [context.Context], http.Server.Shutdown and WebSocket, 64 KiB.",
		"Call `c.CloseWith(cause, 1008, \"x\")` or `reg.Revoke(subject)`; `wsmw.Handler(reg, fn)`.",
		"Example:\n\n\tr.Use(wsmw.SessionExpiry(time.Minute))\n",
	}
	for _, text := range fine {
		if problems := c.comment(text); len(problems) > 0 {
			t.Errorf("%q: reported %s", text, strings.Join(problems, "; "))
		}
	}
	md := c.markdown("Removed: ~~`wsmw.NoSuchPolicy`~~ → `wsmw.SessionExpiry`; gone: `wsmw.Gone`.\n```go\nwsmw.AlsoGone()\n```\n```js\nnot.Checked()\n```\n")
	if len(md) != 2 {
		t.Errorf("markdown: want 2 problems (wsmw.Gone, wsmw.AlsoGone), got %q", md)
	}
}

func nonEmpty(recv, name string) []string {
	if recv == "" {
		return []string{name}
	}
	return []string{recv, name}
}
