package queue_test

import (
	"log/slog"
	"testing"

	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/queue"
	"github.com/wsmw/wsmw/ratelimit"
	"github.com/wsmw/wsmw/timeout"
)

// An option SlowConsumer does not take panics at construction, naming the
// option and the policy.
func TestSlowConsumerMisplacedOptionsPanic(t *testing.T) {
	for _, tc := range []struct {
		opt  middleware.Option
		name string
	}{
		{ratelimit.WithKey(ratelimit.KeyBySubject), "WithKey"},
		{ratelimit.WithFailClosed(), "WithFailClosed"},
		{timeout.WithCountOutbound(), "WithCountOutbound"},
		{middleware.WithLogger(slog.Default()), "WithLogger"},
		{middleware.WithSubprotocols("chat"), "WithSubprotocols"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wstest.MustPanic(t, func() { queue.SlowConsumer(queue.WithMaxMessages(8), tc.opt) },
				"wsmw: "+tc.name+" does not apply to SlowConsumer")
		})
	}
	wstest.MustPanic(t, func() { queue.SlowConsumer(nil) }, "nil option given to SlowConsumer")
}

// Bounds that could hold nothing, and overflow modes that do not exist,
// panic where the option is made, saying what is allowed.
func TestMeaninglessBoundsPanic(t *testing.T) {
	wstest.MustPanic(t, func() { queue.WithMaxMessages(0) }, "WithMaxMessages(0)", "must be positive")
	wstest.MustPanic(t, func() { queue.WithMaxMessages(-1) }, "WithMaxMessages(-1)", "must be positive")
	wstest.MustPanic(t, func() { queue.WithMaxBytes(0) }, "WithMaxBytes(0)", "must be positive")
	wstest.MustPanic(t, func() { queue.WithMaxBytes(-1 << 20) }, "WithMaxBytes(-1048576)", "must be positive")
	wstest.MustPanic(t, func() { queue.WithOverflow(queue.OverflowDropOldest + 1) }, "WithOverflow(3)", "not an Overflow")
	wstest.MustPanic(t, func() { queue.WithOverflow(-1) }, "WithOverflow(-1)", "not an Overflow")
}
