//go:build !linux

package evpoll

import "syscall"

// Supported reports whether this system has a Poller (Linux only).
const Supported = false

// Poller needs epoll: on this system New returns ErrUnsupported and the
// caller falls back to a goroutine per connection.
type Poller struct{ pool *Pool }

// New returns ErrUnsupported: there is no epoll on this system.
func New(handler func(id uint64, ev Events), opts ...Option) (*Poller, error) {
	return nil, ErrUnsupported
}

// Pool returns nil: there is no Poller on this system.
func (p *Poller) Pool() *Pool { return nil }

// Add returns ErrUnsupported.
func (p *Poller) Add(rc syscall.RawConn, id uint64) error { return ErrUnsupported }

// Rearm returns ErrUnsupported.
func (p *Poller) Rearm(rc syscall.RawConn, id uint64) error { return ErrUnsupported }

// WatchWrites returns ErrUnsupported.
func (p *Poller) WatchWrites(rc syscall.RawConn, id uint64) error { return ErrUnsupported }

// Remove returns nil: nothing can be registered on this system.
func (p *Poller) Remove(rc syscall.RawConn) error { return nil }

// Stats returns zeros.
func (p *Poller) Stats() PollerStats { return PollerStats{} }

// Close returns nil.
func (p *Poller) Close() error { return nil }
