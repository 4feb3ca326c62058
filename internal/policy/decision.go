package policy

import (
	"context"
	"net/http"
)

// Decision is what a policy decided about an upgrade request, or about the
// connection it became, told to the observers of that request ([OnDecision])
// as it happens. [LogRefusal] reports every refusal before the upgrade (Name
// [DecisionUpgradeRefused]); a policy reports others with [ReportDecision].
type Decision struct {
	// Name says what was decided: lower case and underscores, stable (an
	// observer may use it as a label).
	Name string
	// Status is the HTTP status the request was answered with, 0 for a
	// decision about an open connection.
	Status int
	// Reason says why, as the log line does; it never holds a token.
	Reason string
}

// DecisionUpgradeRefused is the Name of the decisions [LogRefusal] reports.
const DecisionUpgradeRefused = "upgrade_refused"

type decisionKey struct{}

// OnDecision returns r with fn added to the observers of the decisions that
// policies report about r and, after the upgrade, about its connection. fn
// runs on the goroutine that reports, so it must be cheap and must not
// block. The connection's context (Conn.Context) carries the observers
// too, as a [WithValue] value.
func OnDecision(r *http.Request, fn func(Decision)) *http.Request {
	prev, _ := r.Context().Value(decisionKey{}).([]func(Decision))
	return WithValue(r, decisionKey{}, append(prev[:len(prev):len(prev)], fn))
}

// ReportDecision tells d to the observers that ctx carries ([OnDecision]):
// ctx is an upgrade request's context, or its connection's (Conn.Context).
// Without observers it does nothing.
func ReportDecision(ctx context.Context, d Decision) {
	fns, _ := ctx.Value(decisionKey{}).([]func(Decision))
	for _, fn := range fns {
		fn(d)
	}
}
