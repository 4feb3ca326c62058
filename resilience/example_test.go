package resilience_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
)

// Example shows the check the chaos run makes on every connection, here
// for the fate "RST": a peer that resets TCP ends the connection exactly
// once, reported as abnormal, 1006, with cause ErrConnectionLost.
func Example() {
	reg := lifecycle.NewRegistry()
	ends := make(chan lifecycle.CloseInfo, 2)
	onClose := middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { ends <- info })
	srv := httptest.NewServer(onClose(middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	})))
	defer srv.Close()

	ws, _, err := (&websocket.Dialer{}).Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ws.NetConn().(*net.TCPConn).SetLinger(0) // close with RST
	ws.Close()

	info := <-ends
	fmt.Println(info.Initiator, info.Code, errors.Is(info.Cause, lifecycle.ErrConnectionLost))
	fmt.Println("ends reported:", 1+len(ends), "registered:", reg.Len())
	// Output:
	// abnormal 1006 abnormal closure true
	// ends reported: 1 registered: 0
}
