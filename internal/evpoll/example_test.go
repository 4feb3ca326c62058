package evpoll_test

import (
	"bufio"
	"bytes"
	"fmt"
	"syscall"

	"github.com/wsmw/wsmw/internal/evpoll"
)

// clientFrame builds a masked client frame (payload under 126 bytes).
func clientFrame(b0 byte, payload string) []byte {
	key := [4]byte{1, 2, 3, 4}
	f := []byte{b0, 0x80 | byte(len(payload)), 1, 2, 3, 4}
	for i := range len(payload) {
		f = append(f, payload[i]^key[i&3])
	}
	return f
}

// At a frame boundary, a wake-up looks at what is buffered: a whole pong
// ahead of a message that has not all arrived is consumed outside
// gorilla; the message waits for its remaining bytes.
func ExampleScanMessage() {
	pong := clientFrame(0x8A, "hb")           // FIN, pong
	text := clientFrame(0x81, "hello, world") // FIN, text
	arrived := append(pong, text[:10]...)
	br := bufio.NewReaderSize(bytes.NewReader(arrived), 4096)
	br.Peek(len(arrived)) // what one read on a wake-up fetched

	m, _ := evpoll.ScanMessage(br, evpoll.Rules{})
	fmt.Println(m.Status, "leading control frames:", m.Leading, "bytes needed:", m.Need)
	for range m.Leading {
		h, payload, _, _ := evpoll.ReadControl(br, evpoll.Rules{})
		fmt.Printf("%v %q\n", h.Opcode, payload)
	}
	fmt.Println("still buffered:", br.Buffered())
	// Output:
	// incomplete leading control frames: 1 bytes needed: 26
	// pong "hb"
	// still buffered: 10
}

// Reads go ahead of heartbeat pings.
func ExamplePool() {
	pool := evpoll.NewPool(evpoll.PoolConfig{MinWorkers: 1, MaxWorkers: 1})
	block := make(chan struct{})
	pool.Submit(evpoll.High, func() { <-block }) // the only worker is busy
	pool.Submit(evpoll.Low, func() { fmt.Println("ping") })
	pool.Submit(evpoll.High, func() { fmt.Println("read") })
	close(block)
	pool.Close() // runs what is queued, then stops
	// Output:
	// read
	// ping
}

// The shape of a core's wake-up handler (see the package documentation).
func ExampleNew() {
	type conn struct {
		rc syscall.RawConn
		br *bufio.Reader
	}
	conns := map[uint64]*conn{} // guarded by the core's lock
	bufs := evpoll.NewBufferPool(8192)
	var p *evpoll.Poller
	p, err := evpoll.New(func(id uint64, ev evpoll.Events) {
		c := conns[id]
		if c == nil {
			return // a wake-up queued before the connection was removed
		}
		// Read once into c.br, consume what is whole (ReadControl,
		// ScanMessage, gorilla's ReadMessage) until the buffer holds
		// nothing complete, then:
		bufs.Detach(c.br) // an idle connection gives its buffer back
		p.Rearm(c.rc, id)
	})
	if err != nil {
		fmt.Println("no event mode here:", err) // fall back to a goroutine per connection
		return
	}
	defer p.Close()
}
