package metrics

import (
	"errors"

	"github.com/wsmw/wsmw/lifecycle"
)

// Cause label values besides the names of known causes.
const (
	// CauseNone is the cause label of a close that carried no cause.
	CauseNone = "none"
	// CauseOther is the cause label of a cause that is neither a
	// *lifecycle.Cause nor named with WithCause.
	CauseOther = "other"
)

type namedCause struct {
	err  error
	name string
}

// CauseName returns the cause label value for a close cause: the name of
// the first *lifecycle.Cause in its chain (every sentinel cause of wsmw's
// packages is one, such as "session_expired" or "rate_limited", and so are
// an application's own made with lifecycle.NewCause), CauseNone for nil and
// CauseOther for anything else.
func CauseName(cause error) string { return causeName(nil, cause) }

func causeName(extra []namedCause, cause error) string {
	if cause == nil {
		return CauseNone
	}
	for _, nc := range extra {
		if errors.Is(cause, nc.err) {
			return nc.name
		}
	}
	var c *lifecycle.Cause
	if errors.As(cause, &c) {
		return c.Name()
	}
	return CauseOther
}
