package lifecycle

import (
	"slices"
	"testing"
)

// TestSubjectListsThroughTheConns drives the per-subject lists that run
// through the Conns: add, remove from the head, the middle and the tail,
// move to another subject, and remove what was never indexed.
func TestSubjectListsThroughTheConns(t *testing.T) {
	r := NewRegistry()
	conns := make([]*Conn, 5)
	for i := range conns {
		conns[i] = &Conn{subj: new(subjectLink)}
	}
	has := func(subject string, want ...*Conn) {
		t.Helper()
		got := r.subjectConns(subject)
		if len(got) != len(want) {
			t.Fatalf("%s: %d conns, want %d", subject, len(got), len(want))
		}
		for _, c := range want {
			if !slices.Contains(got, c) {
				t.Fatalf("%s: missing a conn", subject)
			}
		}
		for i, c := range got { // the links agree in both directions
			if (i == 0) != (c.subj.prev == nil) || (i > 0 && c.subj.prev != got[i-1]) {
				t.Fatalf("%s: broken back link at %d", subject, i)
			}
		}
	}
	for _, c := range conns[:4] {
		r.index(c, "alice")
	}
	r.index(conns[4], "bob")
	has("alice", conns[:4]...)
	has("bob", conns[4])

	r.unindex(conns[3], "alice") // the head: indexed last
	has("alice", conns[0], conns[1], conns[2])
	r.unindex(conns[1], "alice") // the middle
	has("alice", conns[0], conns[2])
	r.unindex(conns[0], "alice") // the tail
	has("alice", conns[2])
	r.unindex(conns[0], "alice") // no longer indexed: nothing happens
	r.unindex(conns[4], "alice") // indexed under another subject: nothing happens
	has("alice", conns[2])
	has("bob", conns[4])

	r.unindex(conns[2], "alice")
	r.index(conns[2], "bob") // a refreshed token with another subject
	has("alice")
	has("bob", conns[2], conns[4])
	if _, ok := r.bySubject["alice"]; ok {
		t.Fatal("an empty subject keeps its map entry")
	}
	r.unindex(conns[4], "bob")
	r.unindex(conns[2], "bob")
	if len(r.bySubject) != 0 {
		t.Fatalf("%d subjects left", len(r.bySubject))
	}
}
