// Package observe holds what the modules that observe connections (metrics:
// Prometheus; otel: OpenTelemetry) share: the bounded names of close causes
// and codes, and the ResponseWriter that learns how an upgrade request was
// answered. It is internal: not part of the API.
package observe

import (
	"errors"
	"strconv"

	"github.com/wsmw/wsmw/lifecycle"
)

// Cause names besides the names of known causes.
const (
	// CauseNone names the cause of a close that carried none.
	CauseNone = "none"
	// CauseOther names a cause that is neither a *lifecycle.Cause nor named
	// by the caller.
	CauseOther = "other"
)

// NamedCause names the closes whose cause matches Err (errors.Is).
type NamedCause struct {
	Err  error
	Name string
}

// CauseName returns the name of a close cause: the Name of the first of
// named that it matches, else the name of the first *lifecycle.Cause in its
// chain (every sentinel cause of wsmw's packages is one, such as
// "session_expired" or "revoked"), [CauseNone] for nil and [CauseOther] for
// anything else. The set of names is bounded: metrics label closes with it.
func CauseName(named []NamedCause, cause error) string {
	if cause == nil {
		return CauseNone
	}
	for _, nc := range named {
		if errors.Is(cause, nc.Err) {
			return nc.Name
		}
	}
	var c *lifecycle.Cause
	if errors.As(cause, &c) {
		return c.Name()
	}
	return CauseOther
}

// CodeLabel returns a close's code as a bounded label: exact for the codes
// this server chooses (local and abnormal ends: its configuration bounds
// them), while a peer's application codes (3000-4999, which it may pick at
// will) are folded into "3xxx" and "4xxx" unless peerCodes holds them.
func CodeLabel(info lifecycle.CloseInfo, peerCodes map[lifecycle.StatusCode]bool) string {
	code := info.Code
	if info.Initiator == lifecycle.InitiatorPeer && code >= 3000 && !peerCodes[code] {
		switch {
		case code < 4000:
			return "3xxx"
		case code < 5000:
			return "4xxx"
		default:
			return "other"
		}
	}
	return strconv.Itoa(int(code))
}
