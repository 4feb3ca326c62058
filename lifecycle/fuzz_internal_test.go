package lifecycle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/wstest"
)

// FuzzClosePayload checks what the core puts on the wire for any code and
// reason an application or policy asks for: never an unsendable code,
// never more than 125 bytes, a reason that is valid UTF-8, cut at a rune
// boundary, and as long as it can be.
//
//	go test -run '^$' -fuzz=FuzzClosePayload -fuzztime=60s ./lifecycle
func FuzzClosePayload(f *testing.F) {
	for _, code := range []int{0, 999, 1000, 1004, 1005, 1006, 1011, 1014, 1015, 1016, 2999, 3000, 4999, 5000, -1, 65536 + 1000} {
		f.Add(code, "")
		f.Add(code, "bye")
	}
	f.Add(1000, strings.Repeat("é", 100))
	f.Add(4000, strings.Repeat("a", 122)+"€")
	f.Add(1001, "\xff\xfe bad utf-8 \xc3")
	f.Add(1008, strings.Repeat("😀", 40))
	f.Fuzz(func(t *testing.T, code int, reason string) {
		sc := StatusCode(code)
		p := closePayload(sc, reason)
		if !sc.Sendable() {
			if len(p) != 0 {
				t.Fatalf("unsendable %d gave payload %q", code, p)
			}
		} else {
			if len(p) < 2 || len(p) > 125 {
				t.Fatalf("payload of %d bytes", len(p))
			}
			if got := StatusCode(binary.BigEndian.Uint16(p)); got != sc {
				t.Fatalf("payload code %d, want %d", got, sc)
			}
			if string(p[2:]) != truncateReason(reason) {
				t.Fatalf("payload reason %q, want %q", p[2:], truncateReason(reason))
			}
			checkWireCode(t, sc)
		}

		cut := truncateReason(reason)
		valid := strings.ToValidUTF8(reason, "\uFFFD")
		switch {
		case !utf8.ValidString(cut):
			t.Fatalf("truncateReason gave invalid UTF-8 %q", cut)
		case len(cut) > MaxReasonBytes:
			t.Fatalf("truncateReason gave %d bytes", len(cut))
		case !strings.HasPrefix(valid, cut):
			t.Fatalf("%q is not a prefix of %q", cut, valid)
		case len(valid) <= MaxReasonBytes && cut != valid:
			t.Fatalf("a short reason was changed: %q -> %q", valid, cut)
		case len(valid) > MaxReasonBytes && len(cut) <= MaxReasonBytes-utf8.UTFMax:
			t.Fatalf("cut too much: %d bytes of %d", len(cut), len(valid))
		case truncateReason(cut) != cut:
			t.Fatalf("truncateReason is not idempotent on %q", cut)
		}

		// A local close asks for a frame that matches what it reports.
		d := localDecision(nil, sc, reason)
		if !d.send || d.frame.Code != d.end.Code || d.frame.Reason != d.end.Reason {
			t.Fatalf("local close sends %+v but reports %+v", d.frame, d.end)
		}
		if d.end.Code != sc && d.end.Code != StatusNoStatusRcvd {
			t.Fatalf("local close of %d reports %d", code, d.end.Code)
		}
	})
}

// checkWireCode fails when code may not appear in a Close frame (RFC 6455
// §7.4: 1004-1006 and 1015 are reserved, 1016-2999 unassigned, and codes
// outside 1000-4999 invalid).
func checkWireCode(t *testing.T, code StatusCode) {
	t.Helper()
	switch {
	case code < 1000 || code > 4999,
		code >= 1004 && code <= 1006,
		code == 1014, // gorilla refuses it from a peer: never sent either
		code == 1015,
		code >= 1016 && code <= 2999:
		t.Fatalf("code %d on the wire", code)
	}
}

// FuzzPeerClose sends any Close frame payload from a client to a real
// server Conn and checks the server's answer and its CloseInfo: a
// well-formed Close is a peer close, echoed with its code; anything else
// is a protocol error answered with 1002; either way the connection ends
// exactly once and the server writes only a well-formed Close frame.
//
//	go test -run '^$' -fuzz=FuzzPeerClose -fuzztime=60s ./lifecycle
func FuzzPeerClose(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x03})
	f.Add([]byte{0x03, 0xe8})
	f.Add(append([]byte{0x03, 0xe8}, "bye"...))
	f.Add(append([]byte{0x0f, 0xa0}, "app code"...))
	f.Add([]byte{0x03, 0xed})       // 1005 may not be sent
	f.Add([]byte{0x03, 0xee})       // 1006 may not be sent
	f.Add([]byte{0x03, 0xf6})       // 1014
	f.Add([]byte{0x03, 0xf7})       // 1015 may not be sent
	f.Add([]byte{0x13, 0x88})       // 5000
	f.Add([]byte{0x03, 0xe8, 0xff}) // invalid UTF-8
	f.Add(append([]byte{0x03, 0xe8}, bytes.Repeat([]byte("x"), 123)...))
	f.Add(append([]byte{0x03, 0xe8}, bytes.Repeat([]byte("x"), 124)...)) // 126 bytes: too long for a control frame

	srv := newFuzzServer()
	f.Cleanup(srv.close)
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := wstest.DialRaw(srv.url, nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		if err := c.WriteFrame(wstest.OpClose, true, payload); err != nil {
			t.Fatalf("write: %v", err)
		}
		frames, err := c.WaitEOF(5 * time.Second)
		if err != nil && !(len(frames) > 0 && errors.Is(err, syscall.ECONNRESET)) {
			// A reset after the Close frame is tolerated: on a protocol
			// error the server closes TCP at once, and bytes of ours that
			// it never read (a long control frame) turn its FIN into an
			// RST. The Close frame itself must have arrived.
			t.Fatalf("the server did not close TCP cleanly: %v (frames read before: %d)", err, len(frames))
		}
		c.Close() // as a client does on EOF: a server that lingers may stop
		info, calls := srv.result(c.Conn.LocalAddr().String())
		if calls != 1 {
			t.Fatalf("%d OnClose calls", calls)
		}
		if len(frames) != 1 || frames[0].Op != wstest.OpClose {
			t.Fatalf("server wrote %d frames: %+v", len(frames), frames)
		}
		reply := frames[0]
		if len(reply.Payload) > 125 || len(reply.Payload) == 1 {
			t.Fatalf("server Close payload of %d bytes", len(reply.Payload))
		}
		if len(reply.Payload) >= 2 {
			checkWireCode(t, StatusCode(reply.CloseCode()))
			if !utf8.ValidString(reply.CloseReason()) {
				t.Fatalf("server Close reason is invalid UTF-8: %q", reply.CloseReason())
			}
		}

		code, text, wellFormed := parsePeerClose(payload)
		if wellFormed {
			if info.Initiator != InitiatorPeer || info.Code != code || info.Reason != text ||
				!errors.Is(info.Cause, ErrPeerClosed) || info.Received == nil || info.Received.Code != code {
				t.Fatalf("peer close %d %q reported as %+v", code, text, info)
			}
			if reply.CloseCode() != int(code) || reply.CloseReason() != "" {
				t.Fatalf("peer close %d echoed as %d %q", code, reply.CloseCode(), reply.CloseReason())
			}
			return
		}
		if info.Initiator != InitiatorLocal || info.Code != StatusProtocolError || !errors.Is(info.Cause, ErrProtocol) {
			t.Fatalf("malformed close %x reported as %+v", payload, info)
		}
		if reply.CloseCode() != int(StatusProtocolError) {
			t.Fatalf("malformed close %x answered with %d %q", payload, reply.CloseCode(), reply.CloseReason())
		}
		if info.Sent == nil || info.Sent.Code != StatusProtocolError {
			t.Fatalf("malformed close: sent %+v", info.Sent)
		}
	})
}

// parsePeerClose tells whether a Conn accepts p as the payload of a
// peer's Close frame, and with what code and text. An empty payload is "no
// status" (1005); a one-byte payload is a protocol error (RFC 6455 §5.5.1;
// gorilla/websocket v1.5.3 alone would take it for 1005, the frame guard
// refuses it); the registered codes up to 1013 (not 1014) and 3000-4999 are
// accepted, with a text that is UTF-8.
func parsePeerClose(p []byte) (StatusCode, string, bool) {
	if len(p) > 125 || len(p) == 1 {
		return 0, "", false
	}
	if len(p) == 0 {
		return StatusNoStatusRcvd, "", true
	}
	code := StatusCode(binary.BigEndian.Uint16(p))
	known := (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1013) || (code >= 3000 && code <= 4999)
	text := string(p[2:])
	return code, text, known && utf8.ValidString(text)
}

// fuzzServer upgrades every request into a Conn that reads until its end
// and records its CloseInfo by the client's address.
type fuzzServer struct {
	srv *httptest.Server
	url string

	mu      sync.Mutex
	results map[string]*fuzzResult
}

type fuzzResult struct {
	calls atomic.Int32
	info  CloseInfo
	done  chan struct{}
}

func newFuzzServer() *fuzzServer {
	s := &fuzzServer{results: map[string]*fuzzResult{}}
	up := websocket.Upgrader{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := accept(w, r, &up, nil, config{CloseTimeout: 2 * time.Second})
		if err != nil {
			return
		}
		res := s.slot(r.RemoteAddr)
		c.OnClose(func(_ *Conn, info CloseInfo) {
			if res.calls.Add(1) == 1 {
				res.info = info
				close(res.done)
			}
		})
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}))
	s.url = "ws" + strings.TrimPrefix(s.srv.URL, "http")
	return s
}

func (s *fuzzServer) slot(addr string) *fuzzResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := s.results[addr]
	if res == nil {
		res = &fuzzResult{done: make(chan struct{})}
		s.results[addr] = res
	}
	return res
}

// result waits for the end of the connection from addr and forgets it.
func (s *fuzzServer) result(addr string) (CloseInfo, int32) {
	res := s.slot(addr)
	select {
	case <-res.done:
	case <-time.After(5 * time.Second):
		return CloseInfo{}, 0
	}
	s.mu.Lock()
	delete(s.results, addr)
	s.mu.Unlock()
	return res.info, res.calls.Load()
}

func (s *fuzzServer) close() { s.srv.Close() }
