package lifecycle

import (
	"testing"
	"unsafe"
)

// The connections of one endpoint share their settings record, and a
// policy that changes a setting of one connection changes no other's.
func TestSettingsAreSharedAndCopiedOnChange(t *testing.T) {
	limits := &FrameLimits{ControlRate: 5}
	a, b := newConn(config{FrameLimits: limits}), newConn(config{FrameLimits: limits})
	if a.settings() != b.settings() {
		t.Fatal("two connections with the same config do not share their settings")
	}
	a.setReadLimit(1024)
	if a.settings().readLimit != 1024 || b.settings().readLimit != defaultReadLimit {
		t.Fatalf("read limits %d and %d", a.settings().readLimit, b.settings().readLimit)
	}
	b.setReadLimit(1024)
	if a.settings() != b.settings() {
		t.Fatal("the same change does not lead to the same shared record")
	}
	if a.settings().limits != limits || a.settings().closeTimeout != defaultCloseTimeout || a.settings().log == nil {
		t.Fatalf("settings %+v", *a.settings())
	}
}

// What an idle connection keeps is measured (bench/MEMORY.md, issue 24):
// these bounds keep the records at their size classes.
func TestConnectionRecordSizes(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 320 {
		t.Errorf("Conn is %d bytes, more than 320", n)
	}
	if n := unsafe.Sizeof(eventConn{}); n > 208 {
		t.Errorf("eventConn (with its bufio.Reader) is %d bytes, more than 208", n)
	}
}
