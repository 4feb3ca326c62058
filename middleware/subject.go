package middleware

import (
	"context"
	"net/http"
)

// WithSubject returns r carrying subject: who the request is from, as an
// authentication policy established it before the upgrade. Upgrade sets it
// on the connection (Conn.SetSubject), so the Registry can find it, and
// policies such as per-subject limits read it with SubjectFromContext. Like Attach, it
// changes the state that r and the request returned share.
func WithSubject(r *http.Request, subject string) *http.Request {
	s, r := state(r)
	s.subject = subject
	return r
}

// SubjectFromContext returns the subject carried by ctx (a request's or a
// connection's context), "" if none.
func SubjectFromContext(ctx context.Context) string {
	if s := stateOf(ctx); s != nil {
		return s.subject
	}
	return ""
}
