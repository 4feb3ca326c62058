//go:build !unix

package evpoll

import "syscall"

// ReadNonblock returns ErrUnsupported: there is no Poller on this system.
func ReadNonblock(rc syscall.RawConn, p []byte) (int, error) { return 0, ErrUnsupported }
