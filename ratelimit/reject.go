package ratelimit

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/wsmw/wsmw/internal/failurelog"
	"github.com/wsmw/wsmw/internal/policy"
)

// Header names, as go-chi/httprate writes them.
const (
	headerLimit     = "X-RateLimit-Limit"
	headerRemaining = "X-RateLimit-Remaining"
	headerReset     = "X-RateLimit-Reset"
	headerRetry     = "Retry-After"
)

// setLimitHeaders writes the X-RateLimit-* fields: the limit, what remains
// and the Unix time at which the quota is whole again.
func setLimitHeaders(w http.ResponseWriter, limit, remaining int, reset time.Duration) {
	h := w.Header()
	h.Set(headerLimit, strconv.Itoa(limit))
	h.Set(headerRemaining, strconv.Itoa(max(remaining, 0)))
	h.Set(headerReset, strconv.FormatInt(time.Now().Add(reset).Unix(), 10))
}

// retrySeconds rounds d up to whole seconds, at least 1.
func retrySeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(max(s, 1), 10)
}

// refuse answers an upgrade request with status, Retry-After and a plain
// text body, after telling the [WithOnReject] hook and logging it (Debug, rate
// limited: see [policy.LogRefusal]).
func (cfg *config) refuse(w http.ResponseWriter, r *http.Request, status int, cause error, retry time.Duration) {
	if cfg.onReject != nil {
		cfg.onReject(r, status, cause)
	}
	policy.LogRefusal(cfg.log, r, status, cause.Error(), slog.Duration("retry_after", retry))
	if retry > 0 {
		w.Header().Set(headerRetry, retrySeconds(retry))
	}
	http.Error(w, http.StatusText(status), status)
}

// keyOf returns r's key; when the key function fails (no subject), it
// refuses r with 403, warns the first time, and reports false.
func (cfg *config) keyOf(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	key, err := cfg.key(r)
	if err == nil {
		return key, true
	}
	cfg.keyFailed(w, r, name, err)
	return "", false
}

// keyFailed refuses r, whose key function failed, with 403 and warns the
// first time.
func (cfg *config) keyFailed(w http.ResponseWriter, r *http.Request, name string, err error) {
	cfg.warnOnce.Do(func() {
		if policy.SubjectPending(r.Context()) {
			cfg.log.Warn("wsmw: "+name+" cannot key an upgrade whose subject comes after it, in band; refusing it with 403 (only MaxConns counts such connections, when their subject is set)", "err", err)
			return
		}
		cfg.log.Warn("wsmw: "+name+" cannot key an upgrade; refusing it with 403 (is the policy before the auth policy that sets the subject?)", "err", err)
	})
	cfg.refuse(w, r, http.StatusForbidden, err, 0)
}

// storeFailure logs a Store error, at most once every [failurelog.Every]
// per policy, and answers 503 when the policy fails closed. It reports
// whether the request was answered.
func (cfg *config) storeFailure(w http.ResponseWriter, r *http.Request, policy string, fl *failureLog, err error) bool {
	if !cfg.logStoreFailure(policy, fl, err) {
		return false
	}
	cfg.refuse(w, r, http.StatusServiceUnavailable, fmt.Errorf("%w: %w", ErrStoreUnavailable, err), cfg.retryAfter)
	return true
}

// logStoreFailure logs a Store error, at most once every
// [failurelog.Every] per policy, and reports whether the policy fails
// closed.
func (cfg *config) logStoreFailure(policy string, fl *failureLog, err error) bool {
	if n, ok := fl.Due(); ok {
		mode := "failing open: upgrades are not counted"
		if cfg.failClosed {
			mode = "failing closed: upgrades are refused with 503"
		}
		cfg.log.Error("wsmw: rate limit store unavailable; "+mode,
			"policy", policy, "err", err, "failures", n)
	}
	return cfg.failClosed
}

// failureLog throttles the log lines about a failing Store, one per policy.
type failureLog = failurelog.Log
