package metrics

import (
	"strconv"

	"github.com/wsmw/wsmw/lifecycle"
)

// codeLabel returns the code label of a close. Codes chosen by this server
// (local and abnormal ends) are kept exact: the server's configuration bounds
// them. A peer may send any code in 3000-4999, so those are folded into
// "3xxx" and "4xxx" unless allowed.
func (m *Metrics) codeLabel(info lifecycle.CloseInfo) string {
	code := info.Code
	if info.Initiator == lifecycle.InitiatorPeer && code >= 3000 && !m.cfg.peerCodes[code] {
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
