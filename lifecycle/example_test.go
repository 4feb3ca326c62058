package lifecycle_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

// Codes that may not appear on the wire are replaced by a Close frame
// without a status.
func ExampleStatusCode_Sendable() {
	for _, code := range []lifecycle.StatusCode{1000, 1005, 1006, 1008, 1014, 1015, 2000, 4408} {
		fmt.Println(code, code.Sendable())
	}
	// Output:
	// 1000 normal closure true
	// 1005 no status false
	// 1006 abnormal closure false
	// 1008 policy violation true
	// 1014 bad gateway false
	// 1015 TLS handshake false
	// 2000 false
	// 4408 true
}

// Reasons are cut to 123 bytes without splitting a UTF-8 sequence.
func ExampleTruncateReason() {
	r := connx.TruncateReason(strings.Repeat("é", 100))
	fmt.Println(len(r), strings.Count(r, "é"))
	// Output: 122 61
}

var errSessionExpired = errors.New("session expired")

// Reads and writes after closing started return a *CloseError: errors.As
// gives the code, errors.Is matches the cause.
func ExampleCloseError() {
	var err error = &lifecycle.CloseError{
		Code: lifecycle.StatusPolicyViolation, Reason: "session expired",
		Initiator: lifecycle.InitiatorLocal, Cause: errSessionExpired,
	}
	var ce *lifecycle.CloseError
	if errors.As(err, &ce) {
		fmt.Println(ce.Code, ce.Initiator)
	}
	fmt.Println(errors.Is(err, errSessionExpired))
	fmt.Println(err)
	// Output:
	// 1008 policy violation local
	// true
	// websocket closed (local): 1008 policy violation: session expired
}

// A read check sees every data message; a prebuilt *CloseError closes the
// connection with its code without allocating.
func ExampleConn_AddReadCheck() {
	tooChatty := &lifecycle.CloseError{Code: lifecycle.StatusPolicyViolation, Reason: "binary only"}
	check := func(mt lifecycle.MessageType, data []byte) error {
		if mt == lifecycle.TextMessage {
			return tooChatty
		}
		return nil
	}
	// In a policy's attachment: c.AddReadCheck(check)
	fmt.Println(check(lifecycle.TextMessage, []byte("hi")) != nil, check(lifecycle.BinaryMessage, nil))
	// Output: true <nil>
}

// quietCheck is a policy's per-connection state: its Timer lives inside it,
// so the policy costs one allocation per connection.
type quietCheck struct {
	c *lifecycle.Conn
	t lifecycle.Timer
}

func (q *quietCheck) fire() { q.c.Close(4000, "too quiet") }

// StartTimer arms a Timer kept in the policy's own state. Like every Conn
// timer it never fires once closing has started, and all of a Conn's
// timers share one runtime timer.
func ExampleConn_StartTimer() {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := connx.Accept(w, r, &up, nil, connx.Config{})
		if err != nil {
			return
		}
		q := &quietCheck{c: c}
		c.StartTimer(&q.t, 50*time.Millisecond, q.fire)
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
				q.t.Reset(50 * time.Millisecond) // any message re-arms it
			}
		}()
	}))
	defer srv.Close()

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	_, _, err = ws.ReadMessage()
	fmt.Println(err)
	// Output: websocket: close 4000: too quiet
}
