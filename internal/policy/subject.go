package policy

import (
	"context"
	"net/http"

	"github.com/wsmw/wsmw/internal/connx"
)

// WithSubject returns r carrying subject: who the request is from, as an
// authentication policy established it before the upgrade. The Upgrader
// sets it on the connection (Conn.SetSubject), so the Registry can find it,
// and policies such as per-subject limits read it with [SubjectFromContext].
func WithSubject(r *http.Request, subject string) *http.Request {
	s, r := state(r)
	s.subject = subject
	return r
}

// SubjectFromContext returns the subject carried by ctx (a request's or a
// connection's context), "" if none.
func SubjectFromContext(ctx context.Context) string {
	if s := StateOf(ctx); s != nil {
		return s.subject
	}
	if c := connx.ConnOf(ctx); c != nil {
		return c.Subject()
	}
	return ""
}

// WithSubjectPending returns r marked as a request whose subject is not
// known yet but will be set on the connection after the upgrade
// (Conn.SetSubject), by in-band authentication: an auth policy that lets an
// upgrade through without a token (auth.WithTokenOptional) marks it.
// Policies that count by subject read the mark with [SubjectPending] and,
// instead of refusing the request, count the connection when its subject is
// set (see [connx.AddSubjectCheck]).
func WithSubjectPending(r *http.Request) *http.Request {
	s, r := state(r)
	s.pending = true
	return r
}

// SubjectPending reports whether ctx (a request's or a connection's
// context) is marked by [WithSubjectPending] and carries no subject yet.
func SubjectPending(ctx context.Context) bool {
	s := StateOf(ctx)
	return s != nil && s.pending && s.subject == ""
}
