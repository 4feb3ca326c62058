package policy

import (
	"net/http"

	"github.com/wsmw/wsmw/lifecycle"
)

// UpgradeCheck is a policy's last word on an upgrade request, said once
// the Registry that the connection would join is known: it returns true to
// let the upgrade go on, or answers w itself (an HTTP error) and returns
// false. See [BeforeUpgrade].
type UpgradeCheck func(w http.ResponseWriter, r *http.Request, reg *lifecycle.Registry) bool

// BeforeUpgrade returns r with check added to the checks that the
// Upgrader runs right before the handshake, after its own (HTTP version,
// draining, Origin), in the order added, with the Registry the connection
// would join: the place for a decision that needs the Registry, such as
// the auth policy's refusal of a revoked subject's older tokens. A policy
// runs before the handler that knows the Registry, so it leaves the check
// for the Upgrader rather than asking for the Registry in its own options.
// A check may still add attachments to r (Attach). When a check returns
// false, the Upgrader writes nothing more and returns
// middleware.ErrRefused.
func BeforeUpgrade(r *http.Request, check UpgradeCheck) *http.Request {
	s, r := state(r)
	if s.checks == nil {
		s.checks = s.check1[:0]
	}
	s.checks = append(s.checks, check)
	return r
}

// RunChecks runs the upgrade checks for reg and reports whether they all
// let the upgrade go on. They run once.
func (s *State) RunChecks(w http.ResponseWriter, r *http.Request, reg *lifecycle.Registry) bool {
	checks := s.checks
	s.checks = nil
	defer clear(s.check1[:])
	for _, check := range checks {
		if !check(w, r, reg) {
			return false
		}
	}
	return true
}
