package lifecycle

import "testing"

func TestInHookSeesRunHookOnTheStack(t *testing.T) {
	if inHook() {
		t.Fatal("inHook outside a hook")
	}
	var in bool
	(&Conn{}).runHook(func(*Conn, CloseInfo) { in = inHook() }, CloseInfo{})
	if !in {
		t.Fatalf("inHook inside a hook is false (looking for %q)", runHookName)
	}
}

func BenchmarkInHook(b *testing.B) {
	for b.Loop() {
		inHook()
	}
}
