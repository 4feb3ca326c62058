package lifecycle_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/evpoll"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

// A close that another goroutine started before serveEvents (a Registry's
// Shutdown or Revoke, a timer, the application) reads the handshake in
// that goroutine when nobody else reads: serveEvents must then leave the
// connection to it, not read it from the event loop as well. Before the
// fix both read: a data race on the read buffer (under -race), frames
// split between two readers. The socket is the loop's (config.Events): the
// goroutine's reads wait on it for the loop's wake-ups.
func TestServeEventsAfterACloseBeganHasOneReader(t *testing.T) {
	reg := lifecycle.NewRegistry()
	defer reg.Shutdown(t.Context())
	errEarly := errors.New("closed before serveEvents")
	infos := make(chan lifecycle.CloseInfo, 100)
	sawClose := make(chan struct{})
	up := websocket.Upgrader{ReadBufferSize: connx.EventBufferSize}
	url := wstest.Server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := connx.Accept(w, r, &up, nil, connx.Config{Registry: reg, Events: true, OnClose: []func(*lifecycle.Conn, lifecycle.CloseInfo){
			func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { infos <- info },
		}})
		if err != nil {
			return
		}
		if evpoll.Supported && !lifecycle.OwnsSocket(c) {
			t.Error("the event loop does not own the socket: the drain would not read through it")
		}
		go c.CloseWith(errEarly, 4001, "early")
		<-sawClose // the Close frame is out: its goroutine reads the handshake now
		connx.ServeEvents(c, func(c *lifecycle.Conn, mt lifecycle.MessageType, data []byte) { c.WriteMessage(mt, data) }, false)
	}))
	for range 20 {
		c, err := wstest.DialRaw(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		f, _, err := c.ReadUntilClose(5 * time.Second)
		if err != nil || f.CloseCode() != 4001 {
			t.Fatalf("close %d %v", f.CloseCode(), err)
		}
		sawClose <- struct{}{}
		for range 20 { // discarded while closing, by one reader
			c.WriteText("late")
			c.WriteFrame(wstest.OpPing, true, []byte("p"))
		}
		c.WriteClose(4001, "")
		if _, err := c.WaitEOF(5 * time.Second); err != nil {
			t.Fatalf("TCP not closed after the handshake: %v", err)
		}
		c.Close()
		select {
		case info := <-infos:
			if info.Code != 4001 || !errors.Is(info.Cause, errEarly) || !info.HandshakeComplete {
				t.Fatalf("info %+v", info)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no OnClose")
		}
	}
}
