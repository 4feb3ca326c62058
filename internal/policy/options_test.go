package policy_test

import (
	"slices"
	"testing"

	"github.com/wsmw/wsmw/internal/policy"
	"github.com/wsmw/wsmw/internal/wstest"
)

type named string

func (n named) OptionName() string { return string(n) }

// TestApplyOptions: options are applied in order; a nil one and one the
// constructor does not take panic, naming the constructor and the option.
func TestApplyOptions(t *testing.T) {
	var got []string
	takes := func(o named) bool {
		got = append(got, string(o))
		return o != "WithOther"
	}
	policy.ApplyOptions("Thing", []named{"WithA", "WithB"}, takes)
	if !slices.Equal(got, []string{"WithA", "WithB"}) {
		t.Fatalf("applied %v", got)
	}
	wstest.MustPanic(t, func() { policy.ApplyOptions("Thing", []named{"WithOther"}, takes) }, "WithOther does not apply to Thing")
	type option interface{ OptionName() string }
	wstest.MustPanic(t, func() {
		policy.ApplyOptions("Thing", []option{nil}, func(option) bool { return true })
	}, "nil option given to Thing")
}
