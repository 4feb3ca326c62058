package cluster

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// catchUpBatch is how many stream entries one read returns.
const catchUpBatch = 256

// errSilent: the subscription stayed silent through a health check.
var errSilent = errors.New("cluster: redis did not answer a ping")

// errNewEpoch: a message came from a stream that is not the one read before.
var errNewEpoch = errors.New("cluster: the revocation stream was emptied and written again")

// subscribeLoop keeps a subscription to the channel for the Node's life,
// subscribing again after any failure.
func (n *Node) subscribeLoop() {
	defer n.wg.Done()
	backoff := minBackoff
	for {
		ps, err := n.subscribe()
		worked := false
		if err == nil {
			if !n.setSubscription(ps) {
				ps.Close()
				return
			}
			worked, err = n.receive(ps)
			n.subscribed.Store(false)
			n.setSubscription(nil)
			ps.Close()
		}
		if n.ctx.Err() != nil {
			return
		}
		n.reload.failed(err)
		if worked {
			backoff = minBackoff
		}
		if !n.down {
			n.log.Warn("cluster: redis subscription lost; revocations will catch up when it is back", "err", err)
			n.down = true
		}
		if !n.sleep(backoff) {
			return
		}
		backoff = nextBackoff(backoff)
	}
}

// errSubscribeSlow: opening a subscription took longer than two health
// checks.
var errSubscribeSlow = errors.New("cluster: redis did not take a subscription in time")

// subscribe opens a subscription, or gives up after two health checks.
// go-redis dials and sets the connection up (HELLO) inside Subscribe, with
// the client's ReadTimeout (5 s by default): against a frozen master —
// which the sentinels have not replaced yet — it would block that long, and
// the Node would try the new master only after. An attempt given up on
// closes its subscription when go-redis returns; Close waits for it.
func (n *Node) subscribe() (*redis.PubSub, error) {
	opened := make(chan *redis.PubSub, 1)
	var state atomic.Int32 // 0 opening, 1 handed over, 2 given up
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		ps := n.client.Subscribe(n.ctx, n.channel)
		if state.CompareAndSwap(0, 1) {
			opened <- ps
			return
		}
		ps.Close()
	}()
	t := time.NewTimer(2 * n.health)
	defer t.Stop()
	select {
	case ps := <-opened:
		return ps, nil
	case <-t.C:
	case <-n.ctx.Done():
	}
	if !state.CompareAndSwap(0, 2) {
		return <-opened, nil
	}
	return nil, errSubscribeSlow
}

// setSubscription records the current subscription for Close; it reports
// false once the Node is closing.
func (n *Node) setSubscription(ps *redis.PubSub) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx.Err() != nil {
		return false
	}
	n.ps = ps
	return true
}

// receive reads the subscription until it fails, and reports whether it
// had worked (subscribed and caught up) before failing. Silent for the
// health check's interval, the subscription is pinged; without an answer
// within another interval, it has failed: a frozen Redis keeps its sockets
// open and says nothing.
func (n *Node) receive(ps *redis.PubSub) (worked bool, err error) {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(n.ctx, n.health)
		if n.ctx.Err() != nil {
			return worked, nil
		}
		if err != nil {
			if isTimeout(err) && !pinged {
				// Silent for a while: make Redis say something.
				pinged = true
				if err := ps.Ping(n.ctx); err == nil {
					continue
				}
			} else if isTimeout(err) {
				err = errSilent
			}
			return worked, err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			// (Re)subscribed: read what was missed, then go live.
			if err := n.resync(); err != nil {
				return worked, err
			}
			switch {
			case !n.started:
				n.log.Info("cluster: listening for revocations", "channel", n.channel)
			case n.down:
				n.log.Info("cluster: redis subscription restored; caught up")
			}
			n.started, n.down = true, false
			worked = true
			n.subscribed.Store(true)
			n.wake() // Redis is back: publish what was queued
		case *redis.Message:
			rv, err := parseMessage(m.Payload)
			if err != nil {
				n.log.Warn("cluster: ignored a revocation message", "err", err)
				continue
			}
			switch {
			case rv.epoch != "" && n.epoch != "" && rv.epoch != n.epoch:
				// Redis lost the stream while the subscription lived
				// (FLUSHALL, say): subscribe again to find out, as after
				// a restart.
				return worked, errNewEpoch
			case rv.id.less(n.from):
				continue // already applied while catching up
			}
			if rv.epoch != "" {
				n.epoch = rv.epoch
			}
			n.from = rv.id.next()
			n.received(rv)
		}
	}
}

// resync checks whether Redis lost stream entries since this Node last read
// it, then applies the entries from n.from on. The stream's entries carry
// an epoch, the same from the first entry of a stream on: a stream whose
// last entry has another epoch than the one read before, or none, was
// emptied (Redis restarted without persistence, or lost the key); one whose
// last entry is older than an entry this Node has seen lost its tail (a
// failover to a replica that had not received it). Either way the Node
// publishes again what it knows to be in force and the stream no longer
// carries, and reads the new entries from the start.
func (n *Node) resync() error {
	last, err := n.lastEntry()
	if err != nil {
		return err
	}
	n.mu.Lock()
	lost := false
	switch {
	case n.epoch != "" && last.epoch != n.epoch, last.id.isZero() && !n.seen.isZero():
		n.lostLocked(streamID{})
		n.from, lost = streamID{}, true
		n.log.Warn("cluster: redis lost the revocation stream; publishing again the revocations in force")
	case last.id.less(n.seen):
		n.lostLocked(last.id)
		n.from, lost = last.id.next(), true
		n.log.Warn("cluster: redis lost the last revocations of the stream; publishing them again", "last", last.id.String())
	}
	n.mu.Unlock()
	n.epoch = last.epoch
	if err := n.catchUp(); err != nil {
		return err
	}
	if lost {
		n.wake()
	}
	return nil
}

// lastEntry reads the stream's last entry; its zero value when the stream
// is empty.
func (n *Node) lastEntry() (revocation, error) {
	entries, err := bounded(n.ctx, n.honours, n.timeout, func(ctx context.Context) ([]redis.XMessage, error) {
		return n.client.XRevRangeN(ctx, n.stream, "+", "-", 1).Result()
	}, nil)
	if err != nil || len(entries) == 0 {
		return revocation{}, err
	}
	rv, err := parseEntry(entries[0].ID, entries[0].Values)
	if rv.id.isZero() {
		return revocation{}, err
	}
	return rv, nil // a malformed last entry still says where the stream is
}

// catchUp applies the stream's entries from n.from on.
func (n *Node) catchUp() error {
	for {
		from := n.from.String()
		entries, err := bounded(n.ctx, n.honours, n.timeout, func(ctx context.Context) ([]redis.XMessage, error) {
			return n.client.XRangeN(ctx, n.stream, from, "+", catchUpBatch).Result()
		}, nil)
		if err != nil {
			return err
		}
		for _, e := range entries {
			rv, err := parseEntry(e.ID, e.Values)
			if err != nil {
				n.log.Warn("cluster: ignored a revocation entry", "err", err)
			} else {
				n.received(rv)
			}
			if rv.epoch != "" {
				n.epoch = rv.epoch
			}
			if !rv.id.less(n.from) {
				n.from = rv.id.next()
			}
		}
		if len(entries) < catchUpBatch {
			return nil
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
