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
func drain(p *peer) []int {
	var got []int
	for m := range p.msgs {
		got = append(got, number(m))
	}
	return got
}

func TestSlowConsumerClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := dialPipe(t, nil, discard, queue.SlowConsumer(queue.WithMaxMessages(8), queue.WithMaxBytes(1<<20)))
		q := queue.Of(p.c)
		accepted, err := fill(t, q, 8, 1<<20, 1000)
		if !errors.Is(err, queue.ErrSlowConsumer) {
			t.Fatalf("Send after %d messages: %v", len(accepted), err)
		}
		synctest.Wait()
		if !p.c.Closing() {
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
		p.read()
		got := drain(p)
		for i, n := range got {
			if n != i {
				t.Fatalf("message %d is #%d", i, n)
			}
		}
		if len(got) > len(accepted) {
			t.Fatalf("read %d, accepted %d", len(got), len(accepted))
		}
		wantClose(t, p, lifecycle.StatusPolicyViolation, "slow consumer", queue.ErrSlowConsumer)
		if q.Dropped() == 0 {
			t.Fatal("Dropped = 0")
		}
	})
}

func TestSlowConsumerDropNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := dialPipe(t, nil, discard, queue.SlowConsumer(queue.WithMaxMessages(4), queue.WithOverflow(queue.OverflowDropNewest)))
		q := queue.Of(p.c)
		accepted, err := fill(t, q, 4, queue.DefaultMaxBytes, 1000)
		if !errors.Is(err, queue.ErrSlowConsumer) {
			t.Fatalf("overflow: %v", err)
		}
		for i := len(accepted) + 1; i < len(accepted)+10; i++ {
			if err := q.Send(lifecycle.BinaryMessage, numbered(i)); !errors.Is(err, queue.ErrSlowConsumer) {
				t.Fatalf("Send %d: %v", i, err)
			}
		}
		synctest.Wait()
		if p.c.Closing() || q.Dropped() != 10 {
			t.Fatalf("closing %v, dropped %d", p.c.Closing(), q.Dropped())
		}
		p.read()
		// Everything accepted arrives, in order.
		for _, want := range accepted {
			if got := number(<-p.msgs); got != want {
				t.Fatalf("got #%d, want #%d", got, want)
			}
		}
		p.finish()
	})
}

func TestSlowConsumerDropOldest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := dialPipe(t, nil, discard, queue.SlowConsumer(queue.WithMaxMessages(4), queue.WithOverflow(queue.OverflowDropOldest)))
		q := queue.Of(p.c)
		const total = 100
		if _, err := fill(t, q, 4, queue.DefaultMaxBytes, total); err != nil {
			t.Fatal(err)
		}
		if p.c.Closing() || q.Dropped() == 0 {
			t.Fatalf("closing %v, dropped %d", p.c.Closing(), q.Dropped())
		}
		p.read()
		var got []int
		for len(got) < total-int(q.Dropped()) {
			got = append(got, number(<-p.msgs))
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
		p.finish()
	})
}

func TestSendAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := dialPipe(t, nil, conntest.Echo)
		p.read()
		p.c.Close(lifecycle.StatusNormalClosure, "")
		p.c.Wait()
		var ce *lifecycle.CloseError
		if err := queue.Send(p.c, lifecycle.TextMessage, []byte("x")); !errors.As(err, &ce) {
			t.Fatalf("Send after close: %v", err)
		}
	})
}

func TestBroadcastSkipsSlowPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := lifecycle.NewRegistry()
		policy := queue.SlowConsumer(queue.WithMaxMessages(16))
		slow := dialPipe(t, reg, discard, policy)
		fast := dialPipe(t, reg, discard, policy)
		fast.read()
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
			if got := number(<-fast.msgs); got != i {
				t.Fatalf("fast peer got #%d, want #%d", got, i)
			}
		}
		// The slow peer never reads, so its 1008 "slow consumer" can never
		// be written: the end is reported as the abnormal one it was.
		if info := slow.c.Wait(); !errors.Is(info.Cause, queue.ErrSlowConsumer) || info.Code != lifecycle.StatusAbnormalClosure ||
			info.Initiator != lifecycle.InitiatorAbnormal || info.Sent != nil || info.Reason != "slow consumer" {
			t.Fatalf("slow peer: %+v", info)
		}
		if reg.Len() != 1 {
			t.Fatalf("registry holds %d", reg.Len())
		}
		slow.finish()
		fast.finish()
	})
}

// Without SlowConsumer, a connection's queue is made on first use with the
// defaults, and Of returns that one queue every time.
func TestOfMakesDefaultQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := dialPipe(t, nil, discard)
		q := queue.Of(p.c)
		if queue.Of(p.c) != q {
			t.Fatal("Of made a second queue")
		}
		accepted, err := fill(t, q, queue.DefaultMaxMessages, queue.DefaultMaxBytes, 10_000)
		if !errors.Is(err, queue.ErrSlowConsumer) {
			t.Fatalf("Send after %d messages: %v", len(accepted), err)
		}
		p.read()
		drain(p)
		wantClose(t, p, lifecycle.StatusPolicyViolation, "slow consumer", queue.ErrSlowConsumer)
	})
}

// middleware.WithClose changes the overflow's close; the cause stays
// ErrSlowConsumer.
func TestSlowConsumerWithClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := dialPipe(t, nil, discard, queue.SlowConsumer(queue.WithMaxMessages(4), middleware.WithClose(lifecycle.StatusTryAgainLater, "falling behind")))
		if _, err := fill(t, queue.Of(p.c), 4, queue.DefaultMaxBytes, 1000); !errors.Is(err, queue.ErrSlowConsumer) {
			t.Fatalf("overflow: %v", err)
		}
		p.read()
		drain(p)
		wantClose(t, p, lifecycle.StatusTryAgainLater, "falling behind", queue.ErrSlowConsumer)
	})
}

// A message larger than the byte bound never fits, even in an empty queue.
func TestMessageLargerThanBoundNeverFits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := dialPipe(t, nil, discard, queue.SlowConsumer(queue.WithMaxBytes(1<<10), queue.WithOverflow(queue.OverflowDropNewest)))
		p.read()
		if err := queue.Send(p.c, lifecycle.BinaryMessage, make([]byte, 1<<10+1)); !errors.Is(err, queue.ErrSlowConsumer) {
			t.Fatalf("Send of a message over the bound: %v", err)
		}
		if err := queue.Send(p.c, lifecycle.BinaryMessage, make([]byte, 1<<10)); err != nil {
			t.Fatalf("Send of a message at the bound: %v", err)
		}
		if got := len(<-p.msgs); got != 1<<10 {
			t.Fatalf("client read %d bytes", got)
		}
		if p.c.Closing() || queue.Of(p.c).Dropped() != 1 {
			t.Fatalf("closing %v, dropped %d", p.c.Closing(), queue.Of(p.c).Dropped())
		}
		p.finish()
	})
}
