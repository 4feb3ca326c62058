package resilience_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/ratelimit"
)

// utf8Case is one message, as frames, and whether ValidUTF8 must refuse
// it.
type utf8Case struct {
	name   string
	frames []wstest.Frame // Op and Payload; Fin marks the last
	bad    bool
}

var utf8Cases = []utf8Case{
	{"valid text", text("héllo €"), false},
	{"binary is not inspected", []wstest.Frame{{Fin: true, Op: wstest.OpBinary, Payload: []byte{0xff, 0xfe}}}, false},
	{"rune split across fragments", fragments("h\xe2\x82", "\xac!"), false},
	{"invalid byte", text("\xff\xfe"), true},
	{"overlong slash", text("\xc0\xaf"), true},
	{"UTF-16 surrogate", text("\xed\xa0\x80"), true},
	{"beyond U+10FFFF", text("\xf4\x90\x80\x80"), true},
	{"truncated at the end", text("ok\xe2\x82"), true},
	{"invalid across fragments", fragments("\xe2", "\x28"), true},
}

func text(s string) []wstest.Frame {
	return []wstest.Frame{{Fin: true, Op: wstest.OpText, Payload: []byte(s)}}
}

func fragments(first, last string) []wstest.Frame {
	return []wstest.Frame{
		{Fin: false, Op: wstest.OpText, Payload: []byte(first)},
		{Fin: true, Op: wstest.OpContinuation, Payload: []byte(last)},
	}
}

// sendUTF8Case sends c's frames on a new connection to url and returns the
// server's Close frame, or nil when it echoed the message instead.
func sendUTF8Case(t *testing.T, url string, header http.Header, c utf8Case) *wstest.Frame {
	t.Helper()
	rc, err := wstest.DialRaw(url, header)
	if err != nil {
		t.Fatalf("%s: dial: %v", c.name, err)
	}
	defer rc.Close()
	for _, f := range c.frames {
		if err := rc.WriteFrame(f.Op, f.Fin, f.Payload); err != nil {
			t.Fatalf("%s: write: %v", c.name, err)
		}
	}
	for {
		f, err := rc.ReadFrame(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: no answer: %v", c.name, err)
		}
		switch f.Op {
		case wstest.OpClose:
			rc.WriteClose(f.CloseCode(), "")
			rc.WaitEOF(5 * time.Second)
			return &f
		case wstest.OpText, wstest.OpBinary:
			rc.WriteClose(1000, "")
			rc.WaitEOF(5 * time.Second)
			return nil
		}
	}
}

// TestInvalidUTF8Gets1007, in each read mode, sends text messages that are not UTF-8 (RFC 6455
// §8.1: the endpoint MUST fail the connection) through ValidUTF8: each is
// answered with 1007 "invalid utf-8" and reported with cause
// ErrInvalidUTF8, while valid text, a rune split between fragments and
// binary data are echoed.
func TestInvalidUTF8Gets1007(t *testing.T) {
	t.Parallel()
	for _, mode := range conntest.Modes {
		t.Run(mode.Name, func(t *testing.T) {
			reg := lifecycle.NewRegistry()
			ends := make(chan lifecycle.CloseInfo, len(utf8Cases))
			h := mode.Handler(reg, conntest.EchoMessage, middleware.WithLogger(discardLog))
			url := wstest.Server(t, middleware.OnClose(func(_ *lifecycle.Conn, info lifecycle.CloseInfo) { ends <- info })(ratelimit.ValidUTF8()(h)))

			for _, c := range utf8Cases {
				closeFrame := sendUTF8Case(t, url, nil, c)
				info := <-ends
				switch {
				case !c.bad && closeFrame != nil:
					t.Errorf("%s: closed with %d %q", c.name, closeFrame.CloseCode(), closeFrame.CloseReason())
				case c.bad && (closeFrame == nil || closeFrame.CloseCode() != 1007 || closeFrame.CloseReason() != "invalid utf-8"):
					t.Errorf("%s: answered %+v, want Close 1007 \"invalid utf-8\"", c.name, closeFrame)
				case c.bad && (info.Code != 1007 || info.Initiator != lifecycle.InitiatorLocal || !errors.Is(info.Cause, ratelimit.ErrInvalidUTF8)):
					t.Errorf("%s: reported %v %v %v", c.name, info.Initiator, info.Code, info.Cause)
				}
			}
			if err := shutdown(reg, 5*time.Second); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestInvalidUTF8AgainstExample checks that the example has ValidUTF8 on
// /ws.
func TestInvalidUTF8AgainstExample(t *testing.T) {
	t.Parallel()
	forEachReadModeAtOnce(t, func(t *testing.T, mode []string) {
		ex := startExample(t, mode...)
		header := http.Header{"Authorization": {"Bearer " + ex.token(t, "utf8")}}
		for _, c := range []utf8Case{utf8Cases[0], utf8Cases[3], utf8Cases[8]} {
			closeFrame := sendUTF8Case(t, ex.wsURL(), header, c)
			if got := closeFrame != nil && closeFrame.CloseCode() == 1007; got != c.bad {
				t.Errorf("%s: answered %+v", c.name, closeFrame)
			}
		}
	})
}
