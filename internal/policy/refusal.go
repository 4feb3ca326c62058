package policy

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Refusal logging: every upgrade refused before the upgrade (401, 403, 429,
// 503) is logged once, at Debug level, with its reason. A flood of refused
// upgrades must not become a flood of log lines, so the lines share one
// process-wide budget: refusalBurst lines at once, refusalPerSecond lines
// a second after that. What the budget swallows is counted and reported by
// the next line that gets through ("suppressed").
const (
	refusalBurst     = 20
	refusalPerSecond = 10
)

var refusals = refusalBudget{tokens: refusalBurst}

type refusalBudget struct {
	mu         sync.Mutex
	tokens     float64
	last       time.Time
	suppressed int
}

// take reports whether a line may be written now and how many were
// swallowed since the last one.
func (b *refusalBudget) take(now time.Time) (bool, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		// Clamped: a clock that goes back (a synctest bubble's) adds none.
		b.tokens = min(refusalBurst, b.tokens+max(0, now.Sub(b.last).Seconds())*refusalPerSecond)
	}
	b.last = now
	if b.tokens < 1 {
		b.suppressed++
		return false, 0
	}
	b.tokens--
	n := b.suppressed
	b.suppressed = 0
	return true, n
}

// LogRefusal logs an upgrade request that a policy answered with an HTTP
// error instead of an upgrade: message "ws upgrade refused" at Debug level
// with the status, the reason, the client's address and the path (never
// the query string, which may hold a token). attrs add policy-specific
// fields. Lines are rate limited process-wide, so that a flood of refused
// upgrades cannot flood the log; a line that follows swallowed ones says
// how many with "suppressed". A nil logger means slog.Default(). Every
// refusal, logged or not, is also reported to r's observers ([OnDecision])
// as a Decision named [DecisionUpgradeRefused], with status and reason.
func LogRefusal(l *slog.Logger, r *http.Request, status int, reason string, attrs ...slog.Attr) {
	if l == nil {
		l = slog.Default()
	}
	ctx := context.Background()
	if r != nil {
		ctx = r.Context()
		ReportDecision(ctx, Decision{Name: DecisionUpgradeRefused, Status: status, Reason: reason})
	}
	if !l.Enabled(ctx, slog.LevelDebug) {
		return
	}
	ok, suppressed := refusals.take(time.Now())
	if !ok {
		return
	}
	all := make([]slog.Attr, 0, 6+len(attrs))
	all = append(all, slog.Int("status", status), slog.String("reason", reason))
	if r != nil {
		all = append(all, slog.String("remote", r.RemoteAddr))
		if r.URL != nil {
			all = append(all, slog.String("path", r.URL.Path))
		}
	}
	all = append(all, attrs...)
	if suppressed > 0 {
		all = append(all, slog.Int("suppressed", suppressed))
	}
	l.LogAttrs(ctx, slog.LevelDebug, "ws upgrade refused", all...)
}
