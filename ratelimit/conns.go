package ratelimit

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// MaxConns allows at most n open WebSocket connections per key (the client
// IP unless [WithKey] says otherwise). A slot is taken before the upgrade and
// released exactly once: when the connection ends, however it ends (peer
// close, reset, server close, shutdown), or at once when the request is not
// upgraded after all (a later policy refused it, the handshake failed). A
// refused upgrade gets 429 with Retry-After ([WithRetryAfter], 5 s by
// default) and X-RateLimit-Limit, -Remaining and -Reset.
//
// Options: [WithKey] ([KeyBySubject] for a per-user cap, after the auth
// policy; with the cluster module's store, across servers), [WithStore],
// [WithPrefix], [WithFailClosed], [WithRetryAfter], [WithOnReject],
// [middleware.WithLogger]. Zero turns the policy off; a negative n panics.
//
// Keyed by subject, [MaxConns] also counts the connections authenticated in
// band: an upgrade that the auth policy let through without a token, its
// subject to come (behind auth.WithTokenOptional), is not refused; its
// slot, under the same key as a token at the upgrade would give it, is
// taken when the connection's subject is set
// (auth.Authenticator.Authenticate calls Conn.SetSubject), and released
// exactly once when the connection ends. A full cap refuses the subject
// instead of the upgrade: SetSubject, and so Authenticate, returns an error that matches [ErrTooManyConnections]
// ([ErrStoreUnavailable] when the Store fails and the policy fails closed;
// [ErrNoSubject] for a token without a subject; [ErrSubjectChange] for a
// connection given a second subject), the connection stays open without a
// subject, and its owner decides the close (the gqlgen adapter closes with
// 1013). Such a refusal is not an HTTP one: [WithOnReject] does not see it;
// the connection's close does.
func MaxConns(n int, opts ...middleware.Option) func(http.Handler) http.Handler {
	checkCount("MaxConns", n)
	cfg := newConfig(forConns, nil, opts)
	return slotPolicy(cfg, n, "MaxConns", "conns:", http.StatusTooManyRequests, ErrTooManyConnections)
}

// MaxTotalConns allows at most n open WebSocket connections through it in
// all (with a shared [Store], such as the cluster module's Redis one: on all
// the servers that share it). Slots are
// taken and released as by [MaxConns]; a refused upgrade gets 503 with
// Retry-After.
//
// Options: [WithStore], [WithPrefix], [WithFailClosed], [WithRetryAfter],
// [WithOnReject], [middleware.WithLogger]. Zero turns the policy off; a
// negative n panics.
func MaxTotalConns(n int, opts ...middleware.Option) func(http.Handler) http.Handler {
	checkCount("MaxTotalConns", n)
	cfg := newConfig(forTotal, nil, opts)
	cfg.key = func(*http.Request) (string, error) { return "all", nil }
	return slotPolicy(cfg, n, "MaxTotalConns", "total:", http.StatusServiceUnavailable, ErrServerFull)
}

func checkCount(policy string, n int) {
	if n < 0 {
		panic(fmt.Sprintf("wsmw: %s(%d): may not be negative (zero turns it off)", policy, n))
	}
}

func slotPolicy(cfg *config, n int, name, prefix string, status int, cause error) func(http.Handler) http.Handler {
	fl := new(failureLog)
	return func(next http.Handler) http.Handler {
		if n <= 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !policy.IsUpgrade(r) {
				next.ServeHTTP(w, r)
				return
			}
			k, err := cfg.key(r)
			if err != nil && errors.Is(err, ErrNoSubject) && policy.SubjectPending(r.Context()) {
				// Authenticated in band, after the upgrade: the slot is
				// taken when the connection's subject is set (inband.go).
				r = policy.Attach(r, cfg.subjectSlot(n, name, prefix, fl))
				next.ServeHTTP(w, r)
				return
			}
			if err != nil {
				cfg.keyFailed(w, r, name, err)
				return
			}
			if k == "" {
				next.ServeHTTP(w, r)
				return
			}
			k = prefix + k
			ctx, cancel := cfg.storeContext(r)
			release, held, err := cfg.store.Acquire(ctx, cfg.prefix+k, n)
			cancel()
			if err != nil {
				if !cfg.storeFailure(w, r, name, fl, err) {
					next.ServeHTTP(w, r)
				}
				return
			}
			if release == nil {
				setLimitHeaders(w, n, 0, cfg.retryAfter)
				cfg.refuse(w, r, status, cause, cfg.retryAfter)
				return
			}
			serveHoldingSlot(withLimitHeaders(w, n, n-held, 0), r, next, release)
		})
	}
}

// serveHoldingSlot runs next with a slot held and makes sure release runs
// exactly once: from an OnClose hook of the connection when the upgrade
// happened (the hook is added to the Conn when it is made, so it runs
// however the connection ends), at once when it did not (or when next
// panicked before it).
func serveHoldingSlot(w http.ResponseWriter, r *http.Request, next http.Handler, release func()) {
	r = middleware.AddCloseHook(r, func(*lifecycle.Conn, lifecycle.CloseInfo) { release() })
	defer func() {
		if middleware.UpgradedConn(r) == nil {
			release()
		}
	}()
	next.ServeHTTP(w, r)
}
