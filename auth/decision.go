package auth

import (
	"context"

	"github.com/wsmw/wsmw/internal/policy"
)

// The decisions the auth policy reports about an open connection
// ([policy.ReportDecision]), for observers such as the otel module's
// spans: "token_authenticated" for a token accepted in band
// ([Authenticator.Authenticate]), "token_refreshed" for a refresh (Refresh),
// and each with "_refused" for a refusal, whose Reason says why (it never
// holds a token).
const (
	decisionAuthenticated  = "token_authenticated"
	decisionTokenRefreshed = "token_refreshed"
)

// reportAuth reports an in-band authentication or a refresh: name when err
// is nil, name + "_refused" with err's text otherwise.
func reportAuth(ctx context.Context, name string, err error) {
	d := policy.Decision{Name: name}
	if err != nil {
		d.Name, d.Reason = name+"_refused", err.Error()
	}
	policy.ReportDecision(ctx, d)
}
