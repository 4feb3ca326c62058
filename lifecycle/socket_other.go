//go:build !linux

package lifecycle

import (
	"net"

	"github.com/wsmw/wsmw/internal/evpoll"
)

// ownSocket returns nil: event mode needs epoll (Linux), so the Conn keeps
// Go's net.Conn and serveEvents falls back to a goroutine.
func ownSocket(net.Conn, *Conn) net.Conn { return nil }

// ownedSocket returns nil: no socket is owned on this system.
func (c *Conn) ownedSocket() *eventConn { return nil }

// failDup is Linux's test switch; nothing to fail here.
var failDup = false

type sockWaits struct{}

func (ec *eventConn) readNow([]byte) (int, error) { return 0, evpoll.ErrUnsupported }

func (ec *eventConn) ready(bool) {}
