package evpoll

import (
	"errors"
	"strings"
)

// Events is the set of conditions one wake-up reports for a connection.
type Events uint32

const (
	// Readable: the socket has bytes to read, or a read returns at once
	// (end of stream, error).
	Readable Events = 1 << iota
	// PeerClosed: the peer shut down its writing side (EPOLLRDHUP); bytes
	// sent before may still be unread.
	PeerClosed
	// Hangup: both directions are shut down (EPOLLHUP).
	Hangup
	// Error: the socket has a pending error (EPOLLERR).
	Error
	// Writable: the socket has room to write again (EPOLLOUT), reported
	// only for a registration that watches writes ([Poller.WatchWrites]).
	Writable
)

// String lists the set's names, "readable|peer-closed" for example.
func (e Events) String() string {
	if e == 0 {
		return "none"
	}
	var parts []string
	for _, n := range []struct {
		bit  Events
		name string
	}{{Readable, "readable"}, {PeerClosed, "peer-closed"}, {Hangup, "hangup"}, {Error, "error"}, {Writable, "writable"}} {
		if e&n.bit != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, "|")
}

var (
	// ErrClosed is returned by a Poller or Pool used after Close.
	ErrClosed = errors.New("evpoll: closed")
	// ErrUnsupported is returned by New where there is no epoll (any
	// system but Linux). It wraps [errors.ErrUnsupported].
	ErrUnsupported = unsupported{}
	// ErrNotRegistered is returned by Rearm for a connection that is not
	// (or no longer) registered.
	ErrNotRegistered = errors.New("evpoll: connection not registered")
	// ErrWouldBlock is returned by [ReadNonblock] when the socket has
	// nothing to read now.
	ErrWouldBlock = errors.New("evpoll: read would block")
)

type unsupported struct{}

func (unsupported) Error() string        { return "evpoll: event mode needs epoll (Linux)" }
func (unsupported) Is(target error) bool { return target == errors.ErrUnsupported }
