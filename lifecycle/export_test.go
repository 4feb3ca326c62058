package lifecycle

import "time"

// SetBlockingReadTimeout sets blockingReadTimeout for a test; the returned
// function restores it.
func SetBlockingReadTimeout(d time.Duration) (restore func()) {
	old := blockingReadTimeout
	blockingReadTimeout = d
	return func() { blockingReadTimeout = old }
}
