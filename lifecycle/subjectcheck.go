package lifecycle

import (
	"fmt"
	"sync"
)

// This file lets a policy veto a subject: a per-subject connection cap
// counts a connection whose subject becomes known after the upgrade (in-band
// authentication) when SetSubject names it, and refuses it there when the
// cap is reached.

// subjectCheck is consulted by SetSubject before the subject is set: nil
// lets it be set, an error refuses it (SetSubject returns that error). A
// check that took something for the subject (a connection slot) returns
// undo, which gives it back and is called when a later check refuses the
// same SetSubject; nil undo when there is nothing to give back. Whatever a
// check keeps must also be given back when the connection ends (an OnClose
// hook): undo is not called then.
//
// Checks run on SetSubject's goroutine, one SetSubject of the connection at
// a time, also when subject is the current one or "" (so a check can accept
// a repeat and refuse a connection that would stay without a subject). A
// check must not call SetSubject; it may block briefly (a Store round trip).
type subjectCheck func(c *Conn, subject string) (undo func(), err error)

// addSubjectCheck adds check to those that SetSubject consults, after the
// ones already added. A nil check panics.
func (c *Conn) addSubjectCheck(check subjectCheck) {
	if check == nil {
		panic("wsmw: addSubjectCheck(nil)")
	}
	v, _ := c.LoadOrStore(subjectGateKey{}, new(subjectGate))
	g := v.(*subjectGate)
	g.mu.Lock()
	g.checks = append(g.checks, check)
	g.mu.Unlock()
}

// subjectGateKey keeps a connection's subjectGate among its values, so
// that connections without checks pay nothing for them.
type subjectGateKey struct{}

// subjectGate holds a connection's subject checks and serializes the
// SetSubject calls that consult them.
type subjectGate struct {
	mu     sync.Mutex
	checks []subjectCheck
}

func (c *Conn) subjectGate() *subjectGate {
	g, _ := c.Value(subjectGateKey{}).(*subjectGate)
	return g
}

// set runs the checks and sets the subject when every one accepts.
func (g *subjectGate) set(c *Conn, subject string) (err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var undos []func()
	defer func() {
		if err != nil {
			for i := len(undos) - 1; i >= 0; i-- {
				undos[i]()
			}
		}
	}()
	for _, check := range g.checks {
		undo, err := runCheck(check, c, subject)
		if err != nil {
			return err
		}
		if undo != nil {
			undos = append(undos, undo)
		}
	}
	c.setSubject(subject)
	return nil
}

// runCheck runs one check, turning a panic into a refusal: a check that
// took something before it panicked cannot give it back, but the subject
// is not set on a check's failure.
func runCheck(check subjectCheck, c *Conn, subject string) (undo func(), err error) {
	defer func() {
		if p := recover(); p != nil {
			c.settings().log.Error("wsmw: subject check panicked", "panic", p)
			undo, err = nil, fmt.Errorf("%w: %v", errSubjectCheckPanic, p)
		}
	}()
	return check(c, subject)
}

// errSubjectCheckPanic: a subjectCheck panicked; SetSubject refused the
// subject with this error (wrapping the panic's value).
var errSubjectCheckPanic = NewCause("subject_check_panic", "wsmw: subject check panicked")
