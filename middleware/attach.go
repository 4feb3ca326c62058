package middleware

import (
	"net/http"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
)

// Policy returns a middleware that runs fn on each new connection right
// after the upgrade, before the handler: the way to write a policy of
// one's own with the Conn's extension API (timers, read checks, hooks,
// [lifecycle.Conn.CloseWith]). Policies run in the order of the chain,
// outermost first. An error from fn closes the connection (a
// [*lifecycle.CloseError] chooses the code and reason; any other error is
// 1011 "internal error", and so is a panic) and the handler does not run.
// Requests that are not upgrades pass unchanged.
func Policy(fn func(*lifecycle.Conn) error) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if policy.IsUpgrade(r) {
				r = policy.Attach(r, fn)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// OnOpen returns a middleware whose fn runs on each new connection after
// every policy's function, right before the handler.
func OnOpen(fn func(*lifecycle.Conn)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if policy.IsUpgrade(r) {
				r = policy.AddOnOpen(r, fn)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// OnClose returns a middleware that adds fn as an [OnClose] hook of each
// connection: it runs exactly once, after TCP is closed, with the true
// cause, for every connection that got a 101, even one that a policy or
// the Registry refused.
func OnClose(fn func(*lifecycle.Conn, lifecycle.CloseInfo)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if policy.IsUpgrade(r) {
				r = AddCloseHook(r, fn)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// AddCloseHook returns r with hook added to the [OnClose] hooks of the
// connection that r may become: the per-request form of [OnClose], for a
// policy that reserves something before the upgrade (a connection slot)
// and must release it exactly once. The hooks are added to the Conn as
// soon as it exists, before its Registry, policies or handler can end it,
// so they run exactly once for every connection that got a 101, however
// it ends; for a request that is never upgraded they never run, which
// [UpgradedConn] tells after next.ServeHTTP returns:
//
//	release := reserve()
//	r = middleware.AddCloseHook(r, func(*lifecycle.Conn, lifecycle.CloseInfo) { release() })
//	next.ServeHTTP(w, r)
//	if middleware.UpgradedConn(r) == nil {
//		release() // no 101: the hook will never run
//	}
//
// r, the request returned and every request derived from either share
// wsmw's state: call it from the request's goroutine before passing r on.
func AddCloseHook(r *http.Request, hook func(*lifecycle.Conn, lifecycle.CloseInfo)) *http.Request {
	return policy.AddCloseHook(r, hook)
}

// UpgradedConn returns the connection made from r (as passed down a policy
// chain), or nil before or without an upgrade: after next.ServeHTTP
// returns, nil means that no 101 was sent (see [AddCloseHook]).
func UpgradedConn(r *http.Request) *lifecycle.Conn { return policy.UpgradedConn(r) }

// WithValue returns r whose context, and later the connection's
// ([lifecycle.Conn.Context]), carries val under key, like
// [context.WithValue]: the way for a middleware to leave a value of the
// request for the connection, whose context keeps none of the request's
// own. It writes into the one state that wsmw's policies share, so a
// chain of them copies the request once, not once each. Like
// [AddCloseHook], it changes the state that r and the request returned
// share; call it from the request's goroutine before passing r on. key
// must be comparable and should be of an unexported type.
func WithValue(r *http.Request, key, val any) *http.Request {
	return policy.WithValue(r, key, val)
}
