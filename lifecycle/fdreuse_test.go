package lifecycle_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/evpoll"
	"github.com/wsmw/wsmw/lifecycle"
)

// Event mode owns its sockets' descriptors: a write, a read or an
// epoll_ctl that raced the close of one connection must never land on the
// descriptor number that a newer connection got meanwhile. Here many
// connections end by every path (the server's close and abort, a write
// timeout against a peer that does not read, the peer's Close, its
// abrupt disconnect and reset) while two goroutines per connection write
// to it as fast as they can and the peers reconnect at once, so that the
// numbers are reused within microseconds. Every message carries its
// connection's id: a peer that receives another connection's message, or
// bytes that are not frames, has been written to through a stale
// descriptor. Run it under -race: the descriptor's lifetime is a few
// atomics.
func TestClosesRacingWritersNeverReachAReusedDescriptor(t *testing.T) {
	const clients, rounds = 8, 24
	var ids atomic.Int64
	var writers sync.WaitGroup
	var endings sync.Map // id → chan struct{}, closed by the connection's OnClose
	endedOf := func(id string) chan struct{} {
		ch, _ := endings.LoadOrStore(id, make(chan struct{}))
		return ch.(chan struct{})
	}
	h := newModeHarness(t, conntest.Events, connx.Config{Events: true, CloseTimeout: time.Second}, func(c *lifecycle.Conn) {
		if evpoll.Supported && !lifecycle.OwnsSocket(c) {
			t.Error("the event loop does not own the socket")
		}
		id := ids.Add(1)
		ended := endedOf(strconv.FormatInt(id, 10))
		c.OnClose(func(*lifecycle.Conn, lifecycle.CloseInfo) { close(ended) })
		connx.SetWriteTimeout(c, 200*time.Millisecond)
		c.WriteMessage(lifecycle.TextMessage, []byte("hello:"+strconv.FormatInt(id, 10)))
		for w := range 2 {
			writers.Go(func() {
				prefix := fmt.Sprintf("m:%d:%d:", id, w)
				for {
					msg := append([]byte(prefix), bytes.Repeat([]byte{'x'}, rand.IntN(2000))...)
					if c.WriteMessage(lifecycle.BinaryMessage, msg) != nil {
						return
					}
					runtime.Gosched() // the closes' turn, on a loaded machine
				}
			})
		}
	}, func(c *lifecycle.Conn, _ lifecycle.MessageType, data []byte) {
		switch mode := string(data); mode {
		case "close", "abort":
			time.AfterFunc(time.Duration(rand.IntN(3000))*time.Microsecond, func() {
				if mode == "close" {
					c.CloseWith(errTimerCause, 4001, "server close")
				} else {
					connx.Abort(c, errTimerCause, 4002, "server abort")
				}
			})
		}
	})

	modes := []string{"close", "abort", "stall", "peer-close", "peer-hangup", "peer-reset"}
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range rounds {
				mode := modes[rand.IntN(len(modes))]
				if err := oneRacingConnection(h.url, mode, endedOf); err != nil {
					t.Errorf("%s: %v", mode, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for range clients * rounds {
		h.next()
	}
	writers.Wait()
}

// oneRacingConnection dials, learns the connection's id, and reads its
// messages until the connection ends as mode says; it reports a message
// of another connection, or bytes gorilla's client cannot parse.
func oneRacingConnection(url, mode string, ended func(id string) chan struct{}) error {
	d := websocket.Dialer{ReadBufferSize: 4096, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		return err
	}
	defer ws.Close()
	ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, hello, err := ws.ReadMessage()
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	id, ok := strings.CutPrefix(string(hello), "hello:")
	if !ok {
		return fmt.Errorf("first message %q", hello)
	}
	want := "m:" + id + ":"
	if err := ws.WriteMessage(websocket.TextMessage, []byte(mode)); err != nil {
		return fmt.Errorf("connection %s: %w", id, err)
	}
	stopAfter := -1
	switch mode {
	case "peer-close", "peer-hangup", "peer-reset":
		stopAfter = rand.IntN(50)
	case "stall":
		// Read nothing until the server's write timeout has ended the
		// connection: its writers wait for room that never comes.
		select {
		case <-ended(id):
		case <-time.After(10 * time.Second):
			return fmt.Errorf("connection %s: a peer that does not read was not ended within 10 s", id)
		}
	}
	for n := 0; ; n++ {
		if n == stopAfter {
			switch mode {
			case "peer-close":
				ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4100, "peer"), time.Now().Add(time.Second))
			case "peer-hangup":
				return nil
			case "peer-reset":
				ws.NetConn().(*net.TCPConn).SetLinger(0)
				return nil
			}
		}
		_, msg, err := ws.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) || strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset by peer") {
				return nil // the connection's end, as mode asked for
			}
			return fmt.Errorf("connection %s: %w", id, err)
		}
		if !bytes.HasPrefix(msg, []byte(want)) {
			return fmt.Errorf("connection %s got %.24q", id, msg)
		}
	}
}
