package policy

import (
	"fmt"
	"log/slog"

	"github.com/wsmw/wsmw/lifecycle"
)

// ApplyOptions calls apply with each of opts, in order, and panics, naming
// the constructor and the option, for a nil option or one that apply
// reports it does not take. Every constructor that takes options calls it.
// O is middleware.Option, which this package cannot name.
func ApplyOptions[O interface{ OptionName() string }](constructor string, opts []O, apply func(O) bool) {
	for _, o := range opts {
		if any(o) == nil {
			panic("wsmw: nil option given to " + constructor)
		}
		if !apply(o) {
			panic(fmt.Sprintf("wsmw: %s does not apply to %s", o.OptionName(), constructor))
		}
	}
}

// CloseOption is the option made by middleware.WithClose: the code and
// reason of a policy's close, checked there. Policies that close
// connections read it in their constructors.
type CloseOption struct {
	Code   lifecycle.StatusCode
	Reason string
}

// OptionName returns "WithClose".
func (CloseOption) OptionName() string { return "WithClose" }

// LoggerOption is the option made by middleware.WithLogger.
type LoggerOption struct{ Logger *slog.Logger }

// OptionName returns "WithLogger".
func (LoggerOption) OptionName() string { return "WithLogger" }
