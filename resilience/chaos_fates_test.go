package resilience_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/queue"
	"github.com/wsmw/wsmw/ratelimit"
	"github.com/wsmw/wsmw/timeout"
)

// fate is what happens to one chaos connection.
type fate int

const (
	fateClean    fate = iota // the client closes with a random valid code
	fateReset                // the client resets TCP (SO_LINGER 0)
	fateSilent               // the client never answers a ping nor sends anything
	fateHalfOpen             // the client talks, then stops reading and writing, TCP kept
	fateSlow                 // the server pushes faster than the client reads
	fateOversize             // the client sends a message over MaxMessageSize
	fateFlood                // the client floods messages over MessageRate
	fateExpiry               // the client's JWT expires during the session
	fateRevoke               // the client's subject is revoked
	fateClosers              // eight server goroutines close at once
	fateReturn               // the handler returns
	fateShutdown             // the client waits for the server to shut down
	numFates
)

var fateNames = [numFates]string{
	"clean close", "RST", "silent peer", "half-open", "slow consumer", "oversized",
	"flood", "token expiry", "revocation", "racing closers", "handler return", "shutdown",
}

func (f fate) String() string { return fateNames[f] }

// closerErrs are the causes of fateClosers' racing goroutines; goroutine i
// closes with 4000+i.
var closerErrs = func() []error {
	errs := make([]error, 8)
	for i := range errs {
		errs[i] = fmt.Errorf("chaos closer %d", i)
	}
	return errs
}()

// peerCodes are the registered codes a client may send in a Close frame.
// 1014 (bad gateway) is left out: gorilla/websocket v1.5.3 does not know it
// and answers it with 1002 "bad close code 1014".
var peerCodes = []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013}

// randomPeerCode picks a code the server must accept from a peer: a
// registered one or one of the 3000-4999 range.
func randomPeerCode(rng *rand.Rand) int {
	if rng.IntN(2) == 0 {
		return peerCodes[rng.IntN(len(peerCodes))]
	}
	return 3000 + rng.IntN(2000)
}

var reasonRunes = []rune("abcxyz 0189-é€😀")

// randomReason returns a short valid UTF-8 reason, empty a quarter of the
// time.
func randomReason(rng *rand.Rand) string {
	if rng.IntN(4) == 0 {
		return ""
	}
	n := 1 + rng.IntN(12)
	rs := make([]rune, n)
	for i := range rs {
		rs[i] = reasonRunes[rng.IntN(len(reasonRunes))]
	}
	return string(rs)
}

// outcome is the end the server must report for a connection.
type outcome struct {
	initiator lifecycle.Initiator
	code      lifecycle.StatusCode
	cause     error
}

// expected returns the end the server must report for rec's fate when
// nothing else interferes.
func expected(rec *record) outcome {
	local, abnormal := lifecycle.InitiatorLocal, lifecycle.InitiatorAbnormal
	switch rec.fate {
	case fateClean:
		return outcome{lifecycle.InitiatorPeer, lifecycle.StatusCode(rec.code), lifecycle.ErrPeerClosed}
	case fateReset:
		return outcome{abnormal, lifecycle.StatusAbnormalClosure, lifecycle.ErrConnectionLost}
	case fateSilent, fateHalfOpen:
		return outcome{abnormal, lifecycle.StatusAbnormalClosure, timeout.ErrPongTimeout}
	case fateSlow:
		return outcome{local, lifecycle.StatusPolicyViolation, queue.ErrSlowConsumer}
	case fateOversize:
		return outcome{local, lifecycle.StatusMessageTooBig, lifecycle.ErrMessageTooBig}
	case fateFlood:
		return outcome{local, lifecycle.StatusPolicyViolation, ratelimit.ErrRateLimited}
	case fateExpiry:
		return outcome{local, lifecycle.StatusPolicyViolation, auth.ErrTokenExpired}
	case fateRevoke:
		return outcome{local, lifecycle.StatusPolicyViolation, lifecycle.ErrSessionRevoked}
	case fateClosers:
		// Any of the eight may win; the cause must be the winner's.
		i := int(rec.info.Code) - 4000
		if i < 0 || i >= len(closerErrs) {
			return outcome{local, 4000, closerErrs[0]}
		}
		return outcome{local, rec.info.Code, closerErrs[i]}
	case fateReturn:
		return outcome{local, lifecycle.StatusNormalClosure, lifecycle.ErrHandlerReturned}
	}
	return shutdownOutcome
}

// shutdownOutcome is the end of a connection that Registry.Shutdown closed.
var shutdownOutcome = outcome{lifecycle.InitiatorLocal, lifecycle.StatusGoingAway, lifecycle.ErrServerShutdown}

// shutdownUnsent is the end of a connection that Registry.Shutdown closed
// but whose 1001 could not be written (the peer had reset it, or never
// read): reported as the abnormal end it was, with the shutdown's cause.
var shutdownUnsent = outcome{lifecycle.InitiatorAbnormal, lifecycle.StatusAbnormalClosure, lifecycle.ErrServerShutdown}

func (o outcome) matches(info lifecycle.CloseInfo) bool {
	return info.Initiator == o.initiator && info.Code == o.code && errors.Is(info.Cause, o.cause)
}

// checkServerEnd reports what is wrong with rec's server-side end, "" when
// nothing is. In a wave whose server shut down while it ran, a
// connection may also have been closed by the shutdown.
func checkServerEnd(rec *record, midShutdown bool) string {
	info := rec.info
	want := expected(rec)
	ok := want.matches(info) || (midShutdown && (shutdownOutcome.matches(info) || shutdownUnsent.matches(info) && info.Sent == nil))
	if !ok {
		return fmt.Sprintf("want %v %v (%v), got %v %v %q (%v) after %v",
			want.initiator, want.code, want.cause, info.Initiator, info.Code, info.Reason, info.Cause, info.Duration.Round(time.Millisecond))
	}
	// What went on the wire must agree with what is reported.
	switch info.Initiator {
	case lifecycle.InitiatorPeer:
		if info.Received == nil || info.Received.Code != info.Code {
			return fmt.Sprintf("peer close without the matching received frame: %+v", info.Received)
		}
	case lifecycle.InitiatorLocal:
		if info.Sent != nil && info.Sent.Code != info.Code {
			return fmt.Sprintf("sent %v but reported %v", info.Sent.Code, info.Code)
		}
	case lifecycle.InitiatorAbnormal:
		if info.Code != lifecycle.StatusAbnormalClosure {
			return "abnormal end with code " + info.Code.String()
		}
	}
	if s := info.Sent; s != nil && s.Code != lifecycle.StatusNoStatusRcvd && !s.Code.Sendable() {
		return "unsendable code on the wire: " + s.Code.String()
	}
	return ""
}

// clientWant is the close code the client must read in a wave without a
// shutdown in the middle, 0 when the fate gives no guarantee (the client
// does not read, or TCP breaks first).
func clientWant(rec *record) int {
	switch rec.fate {
	case fateClean:
		return rec.code
	case fateOversize:
		return 1009
	case fateFlood, fateExpiry, fateRevoke:
		return 1008
	case fateClosers:
		return int(rec.info.Code)
	case fateReturn:
		return 1000
	case fateShutdown:
		return 1001
	case fateSilent:
		return 1011 // the best-effort frame of the heartbeat
	}
	return 0
}
