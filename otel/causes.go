package otel

import (
	"errors"
	"strconv"

	"github.com/wsmw/wsmw/lifecycle"
)

// Values of wsmw.close.cause besides the names of known causes.
const (
	// CauseNone is the cause of a close that carried none.
	CauseNone = "none"
	// CauseOther is the cause of one that is neither a *lifecycle.Cause nor
	// named with [WithCause].
	CauseOther = "other"
)

type namedCause struct {
	err  error
	name string
}

// causeName returns the wsmw.close.cause value of a close cause: the name
// given with WithCause, else the name of the first *lifecycle.Cause in its
// chain (every sentinel cause of wsmw's packages is one, such as
// "session_expired" or "revoked"), CauseNone for nil and CauseOther for
// anything else. The set of values is bounded: it is a metric attribute.
func causeName(named []namedCause, cause error) string {
	if cause == nil {
		return CauseNone
	}
	for _, nc := range named {
		if errors.Is(cause, nc.err) {
			return nc.name
		}
	}
	if c, ok := errors.AsType[*lifecycle.Cause](cause); ok {
		return c.Name()
	}
	return CauseOther
}

// codeValue is the websocket.close.code attribute of the metrics: exact for
// the codes this server chooses (local and abnormal ends: its
// configuration bounds them), while a peer's application codes (3000-4999,
// which it may pick at will) are folded into "3xxx" and "4xxx" unless
// allowed with WithPeerCodes. A string, for that reason; spans carry the
// exact code as an int.
func (t *Telemetry) codeValue(info lifecycle.CloseInfo) string {
	code := info.Code
	if info.Initiator == lifecycle.InitiatorPeer && code >= 3000 && !t.cfg.peerCodes[code] {
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
