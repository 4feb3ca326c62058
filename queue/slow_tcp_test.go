package queue_test

import (
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/queue"
)

// A client that stops reading while the server sends is closed with 1008
// "slow consumer" before its queue passes the bound, and sees that close
// once it reads again.
func TestSlowConsumerOverTCP(t *testing.T) {
	const maxMsgs, maxBytes = 64, 1 << 20
	s := conntest.NewTCPServer(t, nil, discard, queue.SlowConsumer(queue.WithMaxMessages(maxMsgs), queue.WithMaxBytes(maxBytes)))
	raw := s.DialRaw(t)
	c := s.Conn(t)
	q := queue.Of(c)
	msg := make([]byte, 64<<10)
	var err error
	sent := 0
	for deadline := time.Now().Add(20 * time.Second); err == nil && time.Now().Before(deadline); sent++ {
		err = q.Send(lifecycle.BinaryMessage, msg)
		if msgs, bytes := q.Len(); msgs > maxMsgs || bytes > maxBytes {
			t.Fatalf("queue holds %d messages, %d bytes", msgs, bytes)
		}
	}
	if !errors.Is(err, queue.ErrSlowConsumer) {
		t.Fatalf("after %d sends: %v", sent, err)
	}
	t.Logf("overflow after %d messages of 64 KiB (kernel buffers took the rest)", sent)
	// Reading again, the client gets the data, then the Close frame.
	cf, before, err := raw.ReadUntilClose(10 * time.Second)
	if err != nil || cf.CloseCode() != 1008 || cf.CloseReason() != "slow consumer" {
		t.Fatalf("close frame %d %q after %d frames: %v", cf.CloseCode(), cf.CloseReason(), len(before), err)
	}
	raw.WriteClose(1008, "")
	info := s.End(t)
	if info.Code != lifecycle.StatusPolicyViolation || info.Initiator != lifecycle.InitiatorLocal ||
		!errors.Is(info.Cause, queue.ErrSlowConsumer) || info.Received == nil {
		t.Fatalf("info = %+v", info)
	}
}

// Memory stays bounded when a producer keeps sending to peers that do not
// read: a queue never holds more than its bound (dropping the oldest), and
// an overflowed one holds nothing (closing).
func TestSlowConsumerMemoryBounded(t *testing.T) {
	for _, overflow := range []queue.Overflow{queue.OverflowClose, queue.OverflowDropOldest} {
		name := map[queue.Overflow]string{queue.OverflowClose: "close", queue.OverflowDropOldest: "drop oldest"}[overflow]
		t.Run(name, func(t *testing.T) {
			const peers, maxBytes, perPeer = 20, 256 << 10, 200 // 200 x 64 KiB = 12.5 MiB offered per peer
			s := conntest.NewTCPServer(t, nil, discard, queue.SlowConsumer(queue.WithMaxBytes(maxBytes), queue.WithOverflow(overflow)))
			conns := make([]*lifecycle.Conn, peers)
			for i := range conns {
				s.DialRaw(t)
				conns[i] = s.Conn(t)
			}
			before := heapAlloc()
			for range perPeer {
				for _, c := range conns {
					// A fresh buffer each time, as a real producer's.
					queue.Send(c, lifecycle.BinaryMessage, make([]byte, 64<<10))
				}
			}
			grown := int64(heapAlloc()) - int64(before)
			t.Logf("offered %d MiB to %d stuck peers; heap grew %d KiB (bound %d KiB)",
				peers*perPeer*64>>10, peers, grown>>10, peers*maxBytes>>10)
			if limit := int64(peers*maxBytes) + 8<<20; grown > limit {
				t.Fatalf("heap grew %d bytes, bound %d", grown, limit)
			}
			for _, c := range conns {
				if m, b := queue.Of(c).Len(); b > maxBytes {
					t.Fatalf("queue holds %d messages, %d bytes", m, b)
				}
			}
		})
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Broadcast never waits on a stuck peer, and once the queues drain the
// process is back to one goroutine per connection: the writers exit.
func TestBroadcastDrainsToOneGoroutinePerConn(t *testing.T) {
	const readers, messages, size = 50, 500, 4 << 10
	reg := lifecycle.NewRegistry()
	// Healthy readers may fall behind by the whole burst (2 MB) without
	// overflowing; the stuck peer's queue holds 16 KiB, so it overflows
	// once the kernel's buffers for it are full.
	fast := conntest.NewTCPServer(t, reg, discard, queue.SlowConsumer(queue.WithMaxMessages(messages), queue.WithMaxBytes(messages*size)))
	slow := conntest.NewTCPServer(t, reg, discard, queue.SlowConsumer(queue.WithMaxMessages(4), queue.WithMaxBytes(4*size)))
	slow.DialRaw(t) // never reads
	stuck := slow.Conn(t)
	clients := make([]*websocket.Conn, readers)
	got := make(chan int, readers)
	for i := range clients {
		ws, _, err := websocket.DefaultDialer.Dial(fast.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = ws
		fast.Conn(t)
		go func() {
			n := 0
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					if n != messages {
						got <- n
					}
					return
				}
				if n++; n == messages {
					got <- n
				}
			}
		}()
	}
	// Each connection costs one goroutine on the server, its handler.
	waitServerGoroutines(t, readers+1)
	msg := make([]byte, size)
	took := make([]time.Duration, messages)
	for i := range messages {
		start := time.Now()
		queue.Broadcast(reg, lifecycle.BinaryMessage, msg)
		took[i] = time.Since(start)
	}
	slices.Sort(took)
	t.Logf("%d Broadcasts to %d peers: median %v, p99 %v, max %v", messages, readers+1,
		took[messages/2], took[messages*99/100], took[messages-1])
	// A Broadcast that waited on the stuck peer would wait for ever (no
	// write timeout here); the bound only absorbs a loaded machine's
	// scheduling stalls. TestBroadcastSkipsSlowPeer proves it exactly, in
	// a synctest bubble.
	if took[messages-1] > 10*time.Second {
		t.Fatalf("a Broadcast took %v", took[messages-1])
	}
	for range readers {
		if n := <-got; n != messages {
			t.Fatalf("a reader got %d of %d", n, messages)
		}
	}
	select {
	case <-stuck.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck peer was not closed")
	}
	if info := stuck.Wait(); !errors.Is(info.Cause, queue.ErrSlowConsumer) {
		t.Fatalf("stuck peer: %+v", info)
	}
	// The writers exit once their queues drain; the stuck peer's handler
	// is gone too.
	waitServerGoroutines(t, readers)
	for _, ws := range clients {
		ws.Close()
	}
}

// waitServerGoroutines waits until the servers run exactly handlers
// goroutines, every one a connection's handler: no send-queue writer, no
// net/http connection goroutine. Goroutines are counted by what they run,
// so this test's own client readers, and other tests' goroutines winding
// down, do not count.
func waitServerGoroutines(t *testing.T, handlers int) {
	t.Helper()
	var got []int
	if !wstest.Eventually(10*time.Second, func() bool {
		got = wstest.CountGoroutines("queue.(*Queue).run(", "queue.DiscardMessages(", "net/http.(*conn).serve(")
		return got[0] == 0 && got[1] == handlers && got[2] == 0
	}) {
		t.Fatalf("server goroutines: %d send-queue writers, %d handlers (want %d), %d net/http", got[0], got[1], handlers, got[2])
	}
}

// A handler that returns as soon as Send reports a slow consumer must not
// win with its own 1000: the overflow's cause is decided before Send
// returns.
func TestSlowConsumerCauseBeatsHandlerReturn(t *testing.T) {
	for range 10 {
		overflowed := make(chan struct{})
		s := conntest.NewTCPServer(t, nil, func(c *lifecycle.Conn) {
			msg := make([]byte, 16<<10)
			for queue.Send(c, lifecycle.BinaryMessage, msg) == nil {
			}
			close(overflowed)
		}, queue.SlowConsumer(queue.WithMaxMessages(4), queue.WithMaxBytes(64<<10)))
		raw := s.DialRaw(t) // does not read until the queue overflowed
		<-overflowed
		if cf, _, err := raw.ReadUntilClose(10 * time.Second); err == nil {
			raw.WriteClose(cf.CloseCode(), "")
		}
		info := s.End(t)
		if info.Code != lifecycle.StatusPolicyViolation || !errors.Is(info.Cause, queue.ErrSlowConsumer) {
			t.Fatalf("info = %+v", info)
		}
		raw.Close()
	}
}
