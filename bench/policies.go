package bench

import (
	"errors"
	"net/http"
)

// errPoliciesPending is returned while the policy packages have not landed.
var errPoliciesPending = errors.New("bench: the timeout package has not landed yet")

// withHeartbeat wraps h with wsmw.Heartbeat(o.Ping, o.PongTimeout).
func withHeartbeat(http.Handler, Options) (http.Handler, error) { return nil, errPoliciesPending }
