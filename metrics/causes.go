package metrics

import "github.com/wsmw/wsmw/internal/observe"

// Cause label values besides the names of known causes.
const (
	// CauseNone is the cause label of a close that carried no cause.
	CauseNone = observe.CauseNone
	// CauseOther is the cause label of a cause that is neither a
	// *lifecycle.Cause nor named with [WithCause].
	CauseOther = observe.CauseOther
)

// CauseName returns the cause label value for a close cause: the name of
// the first *lifecycle.Cause in its chain (every sentinel cause of wsmw's
// packages is one, such as "session_expired" or "rate_limited", and so are
// an application's own made with lifecycle.NewCause), [CauseNone] for nil and
// [CauseOther] for anything else.
func CauseName(cause error) string { return observe.CauseName(nil, cause) }
