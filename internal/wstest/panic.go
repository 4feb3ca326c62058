package wstest

import (
	"fmt"
	"strings"
	"testing"
)

// MustPanic fails t unless f panics with a message holding every one of
// wants, and logs the message.
func MustPanic(t testing.TB, f func(), wants ...string) {
	t.Helper()
	msg := func() (msg string) {
		defer func() {
			if p := recover(); p != nil {
				msg = fmt.Sprint(p)
				if msg == "" {
					msg = "(empty panic)"
				}
			}
		}()
		f()
		return ""
	}()
	if msg == "" {
		t.Fatalf("no panic, want one saying %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Fatalf("panic %q does not say %q", msg, w)
		}
	}
	t.Logf("panic: %s", msg)
}
