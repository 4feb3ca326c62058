package bench_test

import (
	"fmt"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/bench"
)

// A benchmark starts the row under test in a child process and talks to it
// as a client; the child reports its own figures.
func ExampleStartChild() {
	c, err := bench.StartChild(bench.WSMW, bench.ChildConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	ws, _, err := websocket.DefaultDialer.Dial(c.URL(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, msg, _ := ws.ReadMessage()
	st, _ := c.Stats()
	fmt.Println(string(msg), st.Opened)
	// Output: hello 1
}

// Names lists the rows in the order the tables show them.
func ExampleNames() {
	fmt.Println(bench.Names())
	// Output: [gorilla tuned melody wsmw wsmw-full wsmw-events wsmw-full-events wsmw-example-events nbio gws]
}
