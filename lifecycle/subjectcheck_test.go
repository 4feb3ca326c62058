package lifecycle_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

// subjectConn returns the server side of a fresh in-memory connection,
// registered in the Registry it returns and open until the test ends.
func subjectConn(t *testing.T) (*lifecycle.Conn, *lifecycle.Registry) {
	t.Helper()
	reg := lifecycle.NewRegistry()
	c, client := pipeConn(t, connx.Config{Registry: reg})
	t.Cleanup(func() {
		client.Close()
		connx.Abort(c, nil, 0, "")
	})
	return c, reg
}

// SetSubject consults the checks in order; a refusal leaves the subject
// and the Registry's index as they were and undoes, in reverse order, what
// the checks before it took.
func TestSubjectChecks(t *testing.T) {
	c, reg := subjectConn(t)
	if err := c.SetSubject("alice"); err != nil {
		t.Fatalf("SetSubject without checks: %v", err)
	}
	no := errors.New("not bob")
	var mu sync.Mutex
	var calls []string
	record := func(s string) {
		mu.Lock()
		calls = append(calls, s)
		mu.Unlock()
	}
	connx.AddSubjectCheck(c, func(_ *lifecycle.Conn, subject string) (func(), error) {
		record("first " + subject)
		return func() { record("undo first " + subject) }, nil
	})
	connx.AddSubjectCheck(c, func(_ *lifecycle.Conn, subject string) (func(), error) {
		record("second " + subject)
		return nil, nil // took nothing
	})
	connx.AddSubjectCheck(c, func(_ *lifecycle.Conn, subject string) (func(), error) {
		record("third " + subject)
		if subject == "bob" {
			return nil, no
		}
		return func() { record("undo third " + subject) }, nil
	})

	if err := c.SetSubject("bob"); !errors.Is(err, no) {
		t.Fatalf("SetSubject(bob) = %v, want the third check's refusal", err)
	}
	if c.Subject() != "alice" || len(connx.SubjectConns(reg, "bob")) != 0 || len(connx.SubjectConns(reg, "alice")) != 1 {
		t.Fatalf("after a refusal: subject %q, indexed under bob %d, under alice %d", c.Subject(), len(connx.SubjectConns(reg, "bob")), len(connx.SubjectConns(reg, "alice")))
	}
	want := []string{"first bob", "second bob", "third bob", "undo first bob"}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls %q, want %q", calls, want)
	}

	calls = nil
	if err := c.SetSubject("carol"); err != nil {
		t.Fatalf("SetSubject(carol) = %v", err)
	}
	if c.Subject() != "carol" || len(connx.SubjectConns(reg, "carol")) != 1 || len(connx.SubjectConns(reg, "alice")) != 0 {
		t.Fatalf("after an accepted SetSubject: subject %q", c.Subject())
	}
	if want := []string{"first carol", "second carol", "third carol"}; !slices.Equal(calls, want) {
		t.Fatalf("calls %q, want %q (no undo once accepted)", calls, want)
	}

	// The checks see a repeat of the current subject and the empty one too.
	calls = nil
	c.SetSubject("carol")
	c.SetSubject("")
	if want := []string{"first carol", "second carol", "third carol", "first ", "second ", "third "}; !slices.Equal(calls, want) {
		t.Fatalf("calls %q, want %q", calls, want)
	}
}

// A panicking check refuses the subject (errSubjectCheckPanic) and the
// checks before it are undone.
func TestSubjectCheckPanics(t *testing.T) {
	c, _ := subjectConn(t)
	var undone atomic.Int32
	connx.AddSubjectCheck(c, func(*lifecycle.Conn, string) (func(), error) {
		return func() { undone.Add(1) }, nil
	})
	connx.AddSubjectCheck(c, func(*lifecycle.Conn, string) (func(), error) { panic("boom") })
	err := c.SetSubject("alice")
	var cause *lifecycle.Cause
	if !errors.As(err, &cause) || cause.Name() != "subject_check_panic" || c.Subject() != "" || undone.Load() != 1 {
		t.Fatalf("SetSubject = %v, subject %q, %d undos; want the subject_check_panic cause, none, 1", err, c.Subject(), undone.Load())
	}
	if c.Err() != nil {
		t.Fatal("a panicking check closed the connection")
	}
}

// SetSubject calls of one connection consult the checks one at a time.
func TestSubjectChecksSerialized(t *testing.T) {
	c, _ := subjectConn(t)
	var inside, most atomic.Int32
	connx.AddSubjectCheck(c, func(_ *lifecycle.Conn, subject string) (func(), error) {
		n := inside.Add(1)
		defer inside.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		return nil, nil
	})
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() { c.SetSubject(fmt.Sprint("user", i%4)) })
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d checks ran at once, want 1", most.Load())
	}
}

func TestAddSubjectCheckNilPanics(t *testing.T) {
	c, _ := subjectConn(t)
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "addSubjectCheck(nil)") {
			t.Fatalf("panic %v, want one naming addSubjectCheck(nil)", p)
		}
	}()
	connx.AddSubjectCheck(c, nil)
}
