package lifecycle_test

import (
	"testing"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
)

func TestEchoThenPeerClose(t *testing.T) {
	h := newHarness(t, connx.Config{}, conntest.Echo)
	c := h.dial()
	c.WriteText("hello")
	f, err := c.ReadFrame(5 * time.Second)
	if err != nil || string(f.Payload) != "hello" {
		t.Fatalf("echo: %v %q", err, f.Payload)
	}
	c.WriteClose(4001, "bye")
	cf, _, err := c.ReadUntilClose(5 * time.Second)
	if err != nil || cf.CloseCode() != 4001 {
		t.Fatalf("echoed close: %v %d", err, cf.CloseCode())
	}
	if _, err := c.WaitEOF(5 * time.Second); err != nil {
		t.Fatalf("server did not close TCP: %v", err)
	}
	info := h.next()
	if info.Code != 4001 || info.Reason != "bye" || info.Initiator != lifecycle.InitiatorPeer || !info.HandshakeComplete {
		t.Fatalf("info = %+v", info)
	}
	_ = wstest.OpClose
}
