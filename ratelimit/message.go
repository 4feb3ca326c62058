package ratelimit

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// MessageRate limits each connection to perSecond data messages per second
// with bursts of up to burst: a golang.org/x/time/rate token bucket checked
// on every message the handler reads (pings, pongs and Close frames are not
// counted: [LimitFrames] budgets them). A message over the limit closes the
// connection with 1008 "rate limit exceeded", cause [ErrRateLimited]. The
// check costs a few tens of nanoseconds and allocates nothing.
//
// Options: [middleware.WithClose] (for example 1013 "try again later"),
// [WithOnExceeded] (decide per message, for example drop it), [WithPerSubject]
// (one bucket for all of a subject's connections on this server). A rate of
// zero turns the policy off; a negative rate, or a burst below 1 with a
// positive rate, panics. 20 a second with bursts of 40 suits chat-like
// traffic.
func MessageRate(perSecond float64, burst int, opts ...middleware.Option) func(http.Handler) http.Handler {
	if perSecond < 0 || perSecond > 0 && burst < 1 {
		panic(fmt.Sprintf("wsmw: MessageRate(%v, %d): a rate of zero turns it off; a positive rate needs a burst of at least 1", perSecond, burst))
	}
	m := newMessageRate(perSecond, burst, opts)
	if perSecond == 0 {
		return func(next http.Handler) http.Handler { return next }
	}
	return middleware.Policy(m.attach)
}

// rateExceeded is [MessageRate]'s close unless WithClose says otherwise.
var rateExceeded = &lifecycle.CloseError{Code: lifecycle.StatusPolicyViolation, Reason: "rate limit exceeded", Cause: ErrRateLimited}

func newMessageRate(perSecond float64, burst int, opts []middleware.Option) *messageRate {
	cfg := newConfig(forMessages, rateExceeded, opts)
	m := &messageRate{limit: rate.Limit(perSecond), burst: burst, cfg: cfg}
	if cfg.perSubject {
		m.shared = make(map[string]*sharedLimiter)
	}
	return m
}

// epoch anchors monoNow.
var epoch = time.Now()

// monoNow is time.Now for the token buckets at half the price: one read of
// the monotonic clock instead of two clock reads (wall and monotonic).
// x/time/rate only subtracts times, which uses their monotonic readings.
func monoNow() time.Time { return epoch.Add(time.Since(epoch)) }

// sharedLen returns the number of subjects with a shared bucket.
func (m *messageRate) sharedLen() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.shared)
}

type messageRate struct {
	limit rate.Limit
	burst int
	cfg   *config

	mu     sync.Mutex
	shared map[string]*sharedLimiter // by subject, with WithPerSubject
}

type sharedLimiter struct {
	lim  *rate.Limiter
	refs int
}

// attach gives c its limiter and installs the read check.
func (m *messageRate) attach(c *lifecycle.Conn) error {
	var lim *rate.Limiter // made by the first message: a connection that sends none needs none
	if subject := c.Subject(); m.shared != nil && subject != "" {
		lim = m.acquireShared(subject)
		c.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) { m.releaseShared(subject) })
	}
	c.AddReadCheck(m.check(c, lim))
	return nil
}

// check returns the read check: one Allow on the limiter, and on excess
// the prebuilt answer, so that the hot path allocates nothing. A nil lim
// is made on the first message, full, as NewLimiter would have made it at
// the upgrade (read checks run one at a time).
func (m *messageRate) check(c *lifecycle.Conn, lim *rate.Limiter) lifecycle.ReadCheck {
	return func(mt lifecycle.MessageType, data []byte) error {
		if lim == nil {
			lim = rate.NewLimiter(m.limit, m.burst)
		}
		if lim.AllowN(monoNow(), 1) {
			return nil
		}
		if m.cfg.onExceeded != nil {
			return m.cfg.onExceeded(c, mt, data)
		}
		return m.cfg.closeErr
	}
}

func (m *messageRate) acquireShared(subject string) *rate.Limiter {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.shared[subject]
	if s == nil {
		s = &sharedLimiter{lim: rate.NewLimiter(m.limit, m.burst)}
		m.shared[subject] = s
	}
	s.refs++
	return s.lim
}

func (m *messageRate) releaseShared(subject string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.shared[subject]; s != nil {
		if s.refs--; s.refs <= 0 {
			delete(m.shared, subject)
		}
	}
}
