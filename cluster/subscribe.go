package cluster

import (
	"context"
	"errors"
	"net"

	"github.com/redis/go-redis/v9"
)

// catchUpBatch is how many stream entries one read returns.
const catchUpBatch = 256

// errSilent: the subscription stayed silent through a health check.
var errSilent = errors.New("cluster: redis did not answer a ping")

// subscribeLoop keeps a subscription to the channel for the Node's life,
// subscribing again after any failure.
func (n *Node) subscribeLoop() {
	defer n.wg.Done()
	backoff := minBackoff
	for {
		ps := n.client.Subscribe(n.ctx, n.channel)
		if !n.setSubscription(ps) {
			ps.Close()
			return
		}
		worked, err := n.receive(ps)
		n.subscribed.Store(false)
		n.setSubscription(nil)
		ps.Close()
		if n.ctx.Err() != nil {
			return
		}
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
// had worked (subscribed and caught up) before failing.
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
			if err := n.catchUp(); err != nil {
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
			if rv.id.less(n.from) {
				continue // already applied while catching up
			}
			n.from = rv.id.next()
			n.apply(rv)
		}
	}
}

// catchUp applies the stream's entries from n.from on.
func (n *Node) catchUp() error {
	for {
		ctx, cancel := context.WithTimeout(n.ctx, n.timeout)
		entries, err := n.client.XRangeN(ctx, n.stream, n.from.String(), "+", catchUpBatch).Result()
		cancel()
		if err != nil {
			return err
		}
		for _, e := range entries {
			rv, err := parseEntry(e.ID, e.Values)
			if err != nil {
				n.log.Warn("cluster: ignored a revocation entry", "err", err)
			} else {
				n.apply(rv)
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
