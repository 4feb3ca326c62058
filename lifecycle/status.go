package lifecycle

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wsmw/wsmw/internal/connlink"
)

// StatusCode is a WebSocket close status code (RFC 6455 §7.4).
type StatusCode int

// Close status codes registered by RFC 6455 and IANA.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatusRcvd            StatusCode = 1005 // never sent: a Close frame without a code
	StatusAbnormalClosure         StatusCode = 1006 // never sent: the transport ended without a Close frame
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	statusBadGateway              StatusCode = 1014
	statusTLSHandshake            StatusCode = 1015 // never sent
)

// MaxReasonBytes is the longest close reason that fits in a control frame
// (125 bytes of payload less the 2-byte code).
const MaxReasonBytes = connlink.MaxReasonBytes

var statusNames = map[StatusCode]string{
	StatusNormalClosure:           "normal closure",
	StatusGoingAway:               "going away",
	StatusProtocolError:           "protocol error",
	StatusUnsupportedData:         "unsupported data",
	StatusNoStatusRcvd:            "no status",
	StatusAbnormalClosure:         "abnormal closure",
	StatusInvalidFramePayloadData: "invalid payload data",
	StatusPolicyViolation:         "policy violation",
	StatusMessageTooBig:           "message too big",
	StatusMandatoryExtension:      "mandatory extension",
	StatusInternalError:           "internal error",
	StatusServiceRestart:          "service restart",
	StatusTryAgainLater:           "try again later",
	statusBadGateway:              "bad gateway",
	statusTLSHandshake:            "TLS handshake",
}

// String returns the code and its registered name, for example
// "1008 policy violation".
func (c StatusCode) String() string {
	if name, ok := statusNames[c]; ok {
		return strconv.Itoa(int(c)) + " " + name
	}
	return strconv.Itoa(int(c))
}

// Sendable reports whether c may appear in a Close frame on the wire: the
// registered codes other than 1004, 1005, 1006, 1014 and 1015, and the
// range 3000-4999 for libraries and applications. Everything else,
// including the unassigned 1016-2999, is rejected by conforming peers.
// 1014 (bad gateway) is registered, but gorilla/websocket refuses it from
// a peer (with 1002), so wsmw neither accepts nor sends it: the two
// directions agree.
func (c StatusCode) Sendable() bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1013:
		return true
	case c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// truncateReason returns reason as valid UTF-8 of at most [MaxReasonBytes]
// bytes, cut at a rune boundary. Invalid UTF-8 sequences are replaced with
// U+FFFD before cutting.
func truncateReason(reason string) string {
	if !utf8.ValidString(reason) {
		reason = strings.ToValidUTF8(reason, "\uFFFD")
	}
	if len(reason) <= MaxReasonBytes {
		return reason
	}
	cut := MaxReasonBytes
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}

// closePayload encodes a Close frame payload for code and reason. A code that
// is not Sendable yields an empty payload (a Close frame without a status),
// and so does [StatusNoStatusRcvd], which means exactly that.
func closePayload(code StatusCode, reason string) []byte {
	if !code.Sendable() {
		return nil
	}
	reason = truncateReason(reason)
	buf := make([]byte, 2+len(reason))
	buf[0] = byte(code >> 8)
	buf[1] = byte(code)
	copy(buf[2:], reason)
	return buf
}
