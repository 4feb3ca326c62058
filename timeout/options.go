package timeout

import (
	"fmt"
	"net/http"
	"time"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// The options of this package's policies: middleware.WithClose (every
// policy but WriteTimeout) and WithCountOutbound (IdleTimeout). An option
// a policy does not take panics at construction.

// closeSpec is a policy's close: its default code and reason, changed by
// [middleware.WithClose].
type closeSpec struct {
	code   lifecycle.StatusCode
	reason string
}

// countOutbound is the option made by [WithCountOutbound].
type countOutbound struct{}

func (countOutbound) OptionName() string { return "WithCountOutbound" }

// WithCountOutbound makes [IdleTimeout] count outbound messages as activity
// too: those written by the connection's send queue (package queue) and
// those reported with Touch.
func WithCountOutbound() middleware.Option { return countOutbound{} }

// settings reads the options of the policy named name, which closes with
// code and reason by default; outbound reports whether [WithCountOutbound]
// was given, which only [IdleTimeout] accepts.
func settings(name string, code lifecycle.StatusCode, reason string, opts []middleware.Option) (cs closeSpec, outbound bool) {
	cs = closeSpec{code, reason}
	policy.ApplyOptions(name, opts, func(o middleware.Option) bool {
		switch o := o.(type) {
		case policy.CloseOption:
			cs = closeSpec{o.Code, o.Reason}
		case countOutbound:
			if name != "IdleTimeout" {
				return false
			}
			outbound = true
		default:
			return false
		}
		return true
	})
	return cs, outbound
}

// checkDuration panics for a negative duration; zero turns a policy off.
func checkDuration(policy string, ds ...time.Duration) {
	for _, d := range ds {
		if d < 0 {
			panic(fmt.Sprintf("wsmw: %s(%v): a duration may not be negative (zero turns the policy off)", policy, d))
		}
	}
}

// passThrough is the middleware of a policy that is turned off.
func passThrough(next http.Handler) http.Handler { return next }
