package lifecycle

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/gorilla/websocket"
)

// minOwnedReader is the smallest read buffer gorilla/websocket takes over
// from the hijack (it silently allocates its own for 256 bytes or less).
const minOwnedReader = 257

// Accept upgrades r with u and returns the Conn that manages the new
// connection. It is the only way to make a Conn:
//
//   - The Conn owns its read buffer (u.ReadBufferSize bytes; gorilla's
//     default when zero) and sits under gorilla's reader, where it sees
//     every frame the peer sends: see FrameLimits.
//   - With cfg.Registry set, the connection joins it before the 101
//     response is written, as a reservation under cfg.Subject that
//     Registry.Revoke reaches; once the Conn exists it is registered.
//     When the Registry is draining, or revoked cfg.Subject during the
//     handshake, the Conn is returned already closing (1001 "server
//     shutting down" or 1008 "session revoked") with ErrServerShutdown or
//     errRevokedDuringUpgrade.
//   - cfg.OnClose hooks are added before anything can end the Conn, so
//     they run exactly once however it ends.
//
// When the handshake fails, gorilla has answered r (400, 403 or 426, or
// the connection is closed) and Accept returns its error and no Conn.
func accept(w http.ResponseWriter, r *http.Request, u *websocket.Upgrader, responseHeader http.Header, cfg config) (*Conn, error) {
	c := newConn(cfg)
	var t *ticket
	if cfg.Registry != nil {
		t = cfg.Registry.reserve(cfg.Subject)
	}
	size := u.ReadBufferSize
	if size <= 0 {
		size = 4096
	}
	hj := &hijacker{ResponseWriter: w, c: c, size: max(size, minOwnedReader), t: t}
	up := *u
	up.ReadBufferSize = 0 // so that gorilla reads through the buffer we give it
	ws, err := up.Upgrade(hj, r, responseHeader)
	if err != nil {
		if t != nil {
			cfg.Registry.cancel(t)
		}
		return nil, err
	}
	c.bind(ws)
	if u.EnableCompression && offersDeflate(r) {
		c.flags.Or(flagDeflate) // gorilla negotiated it: the event mode's scan must know
	}
	c.lists.hooks, c.lists.nHooks = keep(cfg.OnClose) // kept, not copied: a later hook copies it
	if cfg.Registry == nil {
		return c, nil
	}
	switch err := cfg.Registry.admit(c, t); {
	case err == nil:
		return c, nil
	case errors.Is(err, ErrServerShutdown):
		c.startClose(ErrServerShutdown, StatusGoingAway, "server shutting down")
		return c, err
	case errors.Is(err, errRevokedDuringUpgrade):
		c.startClose(ErrSessionRevoked, StatusPolicyViolation, "session revoked")
		return c, err
	default:
		return c, err
	}
}

// errRevokedDuringUpgrade is returned by Accept for a connection whose
// subject [Registry.Revoke] revoked while its handshake was under way; the
// Conn is closing with 1008 "session revoked".
var errRevokedDuringUpgrade = errors.New("wsmw: subject revoked during the upgrade")

// hijacker hands gorilla a reader we own, over the Conn's frame guard.
type hijacker struct {
	http.ResponseWriter
	c    *Conn
	size int
	t    *ticket
}

// Hijack takes the connection from net/http and gives gorilla the frame
// guard as its net.Conn (gorilla resets the reader onto it) and a read
// buffer of the Conn's size: a fresh one, or in event mode one from the
// pool the loop returns it to. Bytes that net/http already buffered
// mean the client spoke before the handshake completed: gorilla gets
// net/http's reader and refuses the connection.
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("wsmw: the ResponseWriter does not implement http.Hijacker")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nc, brw, err
	}
	if brw.Reader.Buffered() > 0 {
		return nc, brw, nil
	}
	g := &h.c.guard
	g.Conn = nc
	if h.c.hasFlag(flagWakeDeferred) {
		if sc := ownSocket(nc, h.c); sc != nil {
			g.Conn = sc // Go's socket is closed: the loop owns ours
		}
	}
	if h.t != nil {
		h.t.hijacked(g)
	}
	switch ec := h.c.ownedSocket(); {
	case ec != nil:
		// Event mode: the buffer goes back to the pool as soon as the
		// connection idles, so take it from there too; the reader itself
		// is part of the eventConn.
		ec.br = &ec.rd
		eventReadBuffers(h.size).Attach(ec.br, (*connReader)(h.c))
		brw.Reader = ec.br
	case h.c.hasFlag(flagWakeDeferred):
		brw.Reader = new(bufio.Reader)
		eventReadBuffers(h.size).Attach(brw.Reader, (*connReader)(h.c))
	default:
		brw.Reader = bufio.NewReaderSize((*connReader)(h.c), h.size)
	}
	return g, brw, nil
}

// Unwrap lets [http.ResponseController] reach the underlying writer.
func (h *hijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// offersDeflate reports whether r offers permessage-deflate, which gorilla
// then negotiates when compression is enabled.
func offersDeflate(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-Websocket-Extensions") {
		for _, ext := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.EqualFold(strings.TrimSpace(name), "permessage-deflate") {
				return true
			}
		}
	}
	return false
}
