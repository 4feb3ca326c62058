package lifecycle

import (
	"reflect"
	"runtime"
)

// inHook reports whether the calling goroutine is running an OnClose hook
// (of any Conn): whether runHook is on its stack. Waiting calls use it to
// not wait for the hooks from inside one, which would wait for itself. It
// costs a walk of the caller's stack, paid only by a waiting call made
// while some hooks run, and by Registry.Shutdown.
func inHook() bool {
	var pcs [64]uintptr
	for skip := 2; ; skip += len(pcs) {
		n := runtime.Callers(skip, pcs[:])
		for _, pc := range pcs[:n] {
			if f := runtime.FuncForPC(pc - 1); f != nil && f.Name() == runHookName {
				return true
			}
		}
		if n < len(pcs) {
			return false
		}
	}
}

// runHookName is the name of Conn.runHook, the frame every OnClose hook
// runs under.
var runHookName = runtime.FuncForPC(reflect.ValueOf((*Conn).runHook).Pointer()).Name()
