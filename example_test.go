package wsmw_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw"
)

// An echo endpoint on chi whose connections are shut down gracefully: the
// client sees 1001 "server shutting down", and Shutdown returns after every
// OnClose hook has run.
func Example() {
	reg := wsmw.NewRegistry()
	r := chi.NewRouter()
	r.Use(wsmw.OnClose(func(c *wsmw.Conn, info wsmw.CloseInfo) {
		fmt.Println("server: closed", info.Code, info.Initiator, info.Cause)
	}))
	r.Get("/ws", wsmw.Handler(reg, func(c *wsmw.Conn, _ *http.Request) {
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return // the arbiter already knows why
			}
			c.WriteMessage(mt, msg)
		}
	}).ServeHTTP)
	srv := httptest.NewServer(r)
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, msg, _ := ws.ReadMessage()
	fmt.Println("client: echo", string(msg))

	clientDone := make(chan error)
	go func() {
		_, _, err := ws.ReadMessage() // gorilla's client answers the Close
		clientDone <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reg.Shutdown(ctx)
	fmt.Println("client:", <-clientDone)
	// Output:
	// client: echo hello
	// server: closed 1001 going away local server shutting down
	// client: websocket: close 1001 (going away): server shutting down
}
