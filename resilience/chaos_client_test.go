package resilience_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

// clientTimeout bounds every wait of a chaos client.
const clientTimeout = 30 * time.Second

var (
	chaosDialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	// slowDialer has a tiny receive buffer, so that a slow reader is
	// overrun by a few hundred KiB rather than by megabytes.
	slowDialer = &websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		NetDialContext: (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
			return errors.Join(err, serr)
		}}).DialContext,
	}
)

// chaosToken signs the record's token: it expires within 2-3 s for
// fateExpiry (exp has a resolution of one second), in ten minutes
// otherwise.
func chaosToken(rec *record) string {
	ttl := 10 * time.Minute
	if rec.fate == fateExpiry {
		ttl = 3 * time.Second
	}
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   rec.subject,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}).SignedString(chaosSecret)
	if err != nil {
		panic(err)
	}
	return tok
}

// runClient plays rec's fate from the client side. dialed is called once
// the opening handshake is over, whatever its result. revoke revokes a
// subject on the server.
func runClient(url string, rec *record, dialed func(), revoke func(string) int) {
	header := http.Header{
		"X-Chaos-Id":    {rec.id},
		"Authorization": {"Bearer " + chaosToken(rec)},
	}
	if rec.fate == fateSilent {
		runSilent(url, rec, header, dialed)
		return
	}
	d := chaosDialer
	if rec.fate == fateSlow {
		d = slowDialer
	}
	ws, resp, err := d.Dial(url, header)
	dialed()
	if err != nil {
		if resp != nil {
			rec.status = resp.StatusCode
			resp.Body.Close()
		} else {
			rec.clientErr = "dial: " + err.Error()
		}
		return
	}
	rec.status = http.StatusSwitchingProtocols
	defer ws.Close()

	switch rec.fate {
	case fateClean:
		if rec.early || echo(ws, rec) {
			ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(rec.code, rec.reason), time.Now().Add(clientTimeout))
			readClose(ws, rec)
		}
	case fateReset:
		if !rec.early {
			echo(ws, rec)
		}
		ws.NetConn().(*net.TCPConn).SetLinger(0)
		ws.Close()
	case fateHalfOpen:
		echo(ws, rec)
		// Neither read nor write from now on; keep TCP until the server
		// has given up on us.
		awaitEnd(rec)
	case fateSlow:
		readSlowly(ws, rec)
	case fateOversize:
		ws.WriteMessage(websocket.BinaryMessage, make([]byte, 2*chaosMaxMessage))
		readClose(ws, rec)
	case fateFlood:
		for range 10 * chaosMsgBurst {
			if ws.WriteMessage(websocket.TextMessage, []byte("flood")) != nil {
				break
			}
		}
		readClose(ws, rec)
	case fateRevoke:
		if echo(ws, rec) {
			revoke(rec.subject)
		}
		readClose(ws, rec)
	case fateClosers:
		readClose(ws, rec)
	default: // fateExpiry, fateReturn, fateShutdown: talk, then wait
		if echo(ws, rec) {
			readClose(ws, rec)
		}
	}
}

// echo sends one message and reads its echo.
func echo(ws *websocket.Conn, rec *record) bool {
	ws.SetWriteDeadline(time.Now().Add(clientTimeout))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("hello "+rec.id)); err != nil {
		rec.clientErr = "echo write: " + err.Error()
		return false
	}
	ws.SetReadDeadline(time.Now().Add(clientTimeout))
	_, msg, err := ws.ReadMessage()
	if err != nil {
		noteClose(rec, err, "echo read")
		return false
	}
	if string(msg) != "hello "+rec.id {
		rec.clientErr = "echo: got " + string(msg)
		return false
	}
	return true
}

// readClose reads until the server's Close frame, which gorilla's client
// answers.
func readClose(ws *websocket.Conn, rec *record) {
	ws.SetReadDeadline(time.Now().Add(clientTimeout))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			noteClose(rec, err, "read")
			return
		}
	}
}

// readSlowly reads one message every 10 ms until the end.
func readSlowly(ws *websocket.Conn, rec *record) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	ws.SetReadDeadline(time.Now().Add(clientTimeout))
	for range tick.C {
		if _, _, err := ws.ReadMessage(); err != nil {
			noteClose(rec, err, "read")
			return
		}
	}
}

func noteClose(rec *record, err error, what string) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		rec.clientCode = ce.Code
		return
	}
	rec.clientErr = what + ": " + err.Error()
}

// awaitEnd waits for the server to end rec's connection.
func awaitEnd(rec *record) {
	select {
	case <-rec.ended:
	case <-time.After(clientTimeout):
		rec.clientErr = "the server did not end the connection"
	}
}

// runSilent completes the handshake, then reads (and so drains the pings)
// but never answers anything: only the heartbeat can tell it is gone.
func runSilent(url string, rec *record, header http.Header, dialed func()) {
	c, err := wstest.DialRaw(url, header)
	dialed()
	if err != nil {
		if c != nil && c.Response != nil {
			rec.status = c.Response.StatusCode
		} else {
			rec.clientErr = "dial: " + err.Error()
		}
		return
	}
	rec.status = http.StatusSwitchingProtocols
	defer c.Close()
	frames, err := c.WaitEOF(clientTimeout)
	if err != nil && !isReset(err) {
		rec.clientErr = "silent: " + err.Error()
	}
	for _, f := range frames {
		if f.Op == wstest.OpClose {
			rec.clientCode = f.CloseCode()
		}
	}
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || strings.Contains(err.Error(), "connection reset")
}

// shutdown drains reg within d and reports an error when it had to force
// connections.
func shutdown(reg *lifecycle.Registry, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return reg.Shutdown(ctx)
}
