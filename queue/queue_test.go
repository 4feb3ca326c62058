package queue_test

import (
	"encoding/binary"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsmw/wsmw/internal/conntest"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/queue"
)

const msgSize = 8 << 10

func numbered(i int) []byte {
	b := make([]byte, msgSize)
	binary.BigEndian.PutUint64(b, uint64(i))
	return b
}

func number(b []byte) int { return int(binary.BigEndian.Uint64(b)) }

// fill sends numbered messages to a peer that does not read, letting the
// writer run between sends, until Send fails or limit is reached. It
// returns the numbers accepted and the first error.
func fill(t *testing.T, q *queue.Queue, maxMsgs, maxBytes, limit int) ([]int, error) {
	t.Helper()
	var accepted []int
	for i := range limit {
		err := q.Send(lifecycle.BinaryMessage, numbered(i))
		if msgs, bytes := q.Len(); msgs > maxMsgs || bytes > maxBytes {
			t.Fatalf("queue holds %d messages, %d bytes: past its bounds", msgs, bytes)
		}
		if err != nil {
			return accepted, err
		}
		accepted = append(accepted, i)
		synctest.Wait()
	}
	return accepted, nil
}

// drain reads the client's messages until its reads end.
func drain(p *conntest.Peer) []int {
	var got []int
	for m := range p.Msgs {
		got = append(got, number(m))
	}
	return got
}

func TestSlowConsumerClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, discard, queue.SlowConsumer(queue.WithMaxMessages(8), queue.WithMaxBytes(1<<20)))
		q := queue.Of(p.C)
		accepted, err := fill(t, q, 8, 1<<20, 1000)
		if !errors.Is(err, queue.ErrSlowConsumer) {
			t.Fatalf("Send after %d messages: %v", len(accepted), err)
		}
		synctest.Wait()
		if !(p.C.Err() != nil) {
			t.Fatal("not closing after the overflow")
		}
		if msgs, bytes := q.Len(); msgs > 1 || bytes > msgSize {
			t.Fatalf("queue not freed: %d messages, %d bytes", msgs, bytes)
		}
		if err := q.Send(lifecycle.TextMessage, []byte("late")); err == nil {
			t.Fatal("Send accepted a message after the overflow")
		}
		// The client catches up within the close timeout: it reads what
		// was written, then the Close frame, and answers it.
		p.Read()
		got := drain(p)
		for i, n := range got {
			if n != i {
				t.Fatalf("message %d is #%d", i, n)
			}
		}
		if len(got) > len(accepted) {
			t.Fatalf("read %d, accepted %d", len(got), len(accepted))
		}
		conntest.WantClose(t, p, lifecycle.StatusPolicyViolation, "slow consumer", queue.ErrSlowConsumer)
		if q.Dropped() == 0 {
			t.Fatal("Dropped = 0")
		}
	})
}

func TestSlowConsumerDropNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, discard, queue.SlowConsumer(queue.WithMaxMessages(4), queue.WithOverflow(queue.OverflowDropNewest)))
		q := queue.Of(p.C)
		accepted, err := fill(t, q, 4, defaultMaxBytes, 1000)
		if !errors.Is(err, queue.ErrSlowConsumer) {
			t.Fatalf("overflow: %v", err)
		}
		for i := len(accepted) + 1; i < len(accepted)+10; i++ {
			if err := q.Send(lifecycle.BinaryMessage, numbered(i)); !errors.Is(err, queue.ErrSlowConsumer) {
				t.Fatalf("Send %d: %v", i, err)
			}
		}
		synctest.Wait()
		if (p.C.Err() != nil) || q.Dropped() != 10 {
			t.Fatalf("closing %v, dropped %d", (p.C.Err() != nil), q.Dropped())
		}
		p.Read()
		// Everything accepted arrives, in order.
		for _, want := range accepted {
			if got := number(<-p.Msgs); got != want {
				t.Fatalf("got #%d, want #%d", got, want)
			}
		}
		p.Finish()
	})
}

func TestSlowConsumerDropOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, discard, queue.SlowConsumer(queue.WithMaxMessages(4), queue.WithOverflow(queue.OverflowDropOldest)))
		q := queue.Of(p.C)
		const total = 100
		if _, err := fill(t, q, 4, defaultMaxBytes, total); err != nil {
			t.Fatal(err)
		}
		if (p.C.Err() != nil) || q.Dropped() == 0 {
			t.Fatalf("closing %v, dropped %d", (p.C.Err() != nil), q.Dropped())
		}
		p.Read()
		var got []int
		for len(got) < total-int(q.Dropped()) {
			got = append(got, number(<-p.Msgs))
		}
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("out of order: %v", got)
			}
		}
		// The newest messages survive; the oldest queued ones were dropped.
		if got[len(got)-1] != total-1 || got[len(got)-3] != total-3 {
			t.Fatalf("tail = %v", got[len(got)-3:])
		}
		p.Finish()
	})
}

func TestSendAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, conntest.Echo)
		p.Read()
		p.C.Close(lifecycle.StatusNormalClosure, "")
		p.C.Wait()
		var ce *lifecycle.CloseError
		if err := queue.Send(p.C, lifecycle.TextMessage, []byte("x")); !errors.As(err, &ce) {
			t.Fatalf("Send after close: %v", err)
		}
	})
}

func TestBroadcastSkipsSlowPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := lifecycle.NewRegistry()
		policy := queue.SlowConsumer(queue.WithMaxMessages(16))
		slow := conntest.DialPipe(t, reg, discard, policy)
		fast := conntest.DialPipe(t, reg, discard, policy)
		fast.Read()
		const total = 200
		for i := range total {
			start := time.Now()
			n := queue.Broadcast(reg, lifecycle.BinaryMessage, numbered(i))
			if time.Since(start) != 0 {
				t.Fatal("Broadcast waited")
			}
			if n < 1 {
				t.Fatalf("broadcast %d reached %d peers", i, n)
			}
			synctest.Wait()
		}
		for i := range total {
			if got := number(<-fast.Msgs); got != i {
				t.Fatalf("fast peer got #%d, want #%d", got, i)
			}
		}
		// The slow peer never reads, so its 1008 "slow consumer" can never
		// be written: the end is reported as the abnormal one it was.
		if info := slow.C.Wait(); !errors.Is(info.Cause, queue.ErrSlowConsumer) || info.Code != lifecycle.StatusAbnormalClosure ||
			info.Initiator != lifecycle.InitiatorAbnormal || info.Sent != nil || info.Reason != "slow consumer" {
			t.Fatalf("slow peer: %+v", info)
		}
		if reg.Len() != 1 {
			t.Fatalf("registry holds %d", reg.Len())
		}
		slow.Finish()
		fast.Finish()
	})
}

// Without SlowConsumer, a connection's queue is made on first use with the
// defaults, and Of returns that one queue every time.
func TestOfMakesDefaultQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, discard)
		q := queue.Of(p.C)
		if queue.Of(p.C) != q {
			t.Fatal("Of made a second queue")
		}
		accepted, err := fill(t, q, defaultMaxMessages, defaultMaxBytes, 10_000)
		if !errors.Is(err, queue.ErrSlowConsumer) {
			t.Fatalf("Send after %d messages: %v", len(accepted), err)
		}
		p.Read()
		drain(p)
		conntest.WantClose(t, p, lifecycle.StatusPolicyViolation, "slow consumer", queue.ErrSlowConsumer)
	})
}

// middleware.WithClose changes the overflow's close; the cause stays
// ErrSlowConsumer.
func TestSlowConsumerWithClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, discard, queue.SlowConsumer(queue.WithMaxMessages(4), middleware.WithClose(lifecycle.StatusTryAgainLater, "falling behind")))
		if _, err := fill(t, queue.Of(p.C), 4, defaultMaxBytes, 1000); !errors.Is(err, queue.ErrSlowConsumer) {
			t.Fatalf("overflow: %v", err)
		}
		p.Read()
		drain(p)
		conntest.WantClose(t, p, lifecycle.StatusTryAgainLater, "falling behind", queue.ErrSlowConsumer)
	})
}

// A message larger than the byte bound never fits, even in an empty queue.
func TestMessageLargerThanBoundNeverFits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := conntest.DialPipe(t, nil, discard, queue.SlowConsumer(queue.WithMaxBytes(1<<10), queue.WithOverflow(queue.OverflowDropNewest)))
		p.Read()
		if err := queue.Send(p.C, lifecycle.BinaryMessage, make([]byte, 1<<10+1)); !errors.Is(err, queue.ErrSlowConsumer) {
			t.Fatalf("Send of a message over the bound: %v", err)
		}
		if err := queue.Send(p.C, lifecycle.BinaryMessage, make([]byte, 1<<10)); err != nil {
			t.Fatalf("Send of a message at the bound: %v", err)
		}
		if got := len(<-p.Msgs); got != 1<<10 {
			t.Fatalf("client read %d bytes", got)
		}
		if (p.C.Err() != nil) || queue.Of(p.C).Dropped() != 1 {
			t.Fatalf("closing %v, dropped %d", (p.C.Err() != nil), queue.Of(p.C).Dropped())
		}
		p.Finish()
	})
}
