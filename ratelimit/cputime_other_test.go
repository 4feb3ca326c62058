//go:build !linux

package ratelimit

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
