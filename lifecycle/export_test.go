package lifecycle

import "time"

// SetPartialTimeout sets partialTimeout for a test; the returned
// function restores it.
func SetPartialTimeout(d time.Duration) (restore func()) {
	old := partialTimeout
	partialTimeout = d
	return func() { partialTimeout = old }
}
