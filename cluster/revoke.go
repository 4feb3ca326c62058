package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/lifecycle"
)

// publishScript records a revocation in the stream (trimmed to about
// ARGV[1] entries) and announces it with its entry ID, in one step, so that
// the channel's order is the stream's order.
//
// KEYS[1] stream; ARGV: retention, subject, before (ms), origin, channel.
var publishScript = redis.NewScript(`
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 's', ARGV[2], 'b', ARGV[3], 'o', ARGV[4])
redis.call('PUBLISH', ARGV[5], id .. ' ' .. ARGV[3] .. ' ' .. ARGV[4] .. ' ' .. ARGV[2])
return id
`)

var errNotSubscribed = errors.New("not connected to redis")

// Revoke closes subject's connections on every server of the cluster with
// 1008 "session revoked" (cause lifecycle.ErrSessionRevoked). The local
// ones are closed at once, and Revoke returns how many; the others are
// closed by their own Node when the revocation reaches it.
//
// When the Node is not connected to Redis (see Subscribed), or Redis does
// not answer within the Node's timeout (or ctx's deadline, if sooner), the
// revocation is queued and published in the background as soon as Redis
// answers, and Revoke returns an error wrapping ErrPending: the other
// servers apply it late, to the connections that were open when it was
// made. Revoke never waits longer than the Node's timeout.
func (n *Node) Revoke(ctx context.Context, subject string) (int, error) {
	before := time.Now().UnixMilli()
	closed := n.reg.Revoke(subject)
	if n.ctx.Err() != nil {
		return closed, ErrClosed
	}
	if !n.subscribed.Load() {
		// Redis is known to be out of reach: do not make the caller wait
		// for a timeout; the publisher sends it as soon as Redis answers.
		n.queue(subject, before)
		return closed, fmt.Errorf("%w: %w", ErrPending, errNotSubscribed)
	}
	if err := n.publish(ctx, subject, before); err != nil {
		n.queue(subject, before)
		n.log.Warn("cluster: redis unavailable; revocation queued", "err", err)
		return closed, fmt.Errorf("%w: %w", ErrPending, err)
	}
	return closed, nil
}

func (n *Node) publish(ctx context.Context, subject string, before int64) error {
	ctx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()
	return publishScript.Run(ctx, n.client, []string{n.stream}, n.retention, subject, before, n.id, n.channel).Err()
}

// queue keeps a revocation for the publisher; a later one of the same
// subject replaces it, since it covers more connections.
func (n *Node) queue(subject string, before int64) {
	n.mu.Lock()
	if old, ok := n.pending[subject]; !ok || old < before {
		n.pending[subject] = before
	}
	if len(n.pending) > n.maxPend {
		oldest, at := "", int64(0)
		for s, b := range n.pending {
			if oldest == "" || b < at {
				oldest, at = s, b
			}
		}
		delete(n.pending, oldest)
		n.log.Error("cluster: revocation queue full; dropped the oldest", "max", n.maxPend)
	}
	n.mu.Unlock()
	n.wake()
}

func (n *Node) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// publishLoop publishes the queued revocations, retrying with backoff
// while Redis stays unreachable.
func (n *Node) publishLoop() {
	defer n.wg.Done()
	backoff := minBackoff
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.kick:
		}
		for !n.flush() {
			select {
			case <-n.ctx.Done():
				return
			case <-n.kick:
			case <-time.After(backoff):
			}
			backoff = nextBackoff(backoff)
		}
		backoff = minBackoff
	}
}

// flush publishes the queue and reports whether it emptied it.
func (n *Node) flush() bool {
	n.mu.Lock()
	batch := make(map[string]int64, len(n.pending))
	for s, b := range n.pending {
		batch[s] = b
	}
	n.mu.Unlock()
	if len(batch) == 0 {
		return true
	}
	published := 0
	for subject, before := range batch {
		if err := n.publish(n.ctx, subject, before); err != nil {
			if !errors.Is(err, context.Canceled) {
				n.log.Debug("cluster: still cannot publish queued revocations", "err", err)
			}
			break
		}
		published++
		n.mu.Lock()
		if n.pending[subject] == before {
			delete(n.pending, subject)
		}
		n.mu.Unlock()
	}
	if published > 0 {
		n.log.Info("cluster: published queued revocations", "count", published)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.pending) == 0
}

// apply makes a revocation from another node hold here: the Registry
// remembers it (RevokeAt, with the time it was made, so that auth refuses
// the subject's tokens issued before it), and closes the subject's
// connections opened before it, plus the clock skew.
func (n *Node) apply(rv revocation) {
	if rv.origin == n.id || rv.subject == "" {
		return // this node applied its own at once
	}
	made := time.UnixMilli(rv.before)
	closed := n.reg.RevokeAt(rv.subject, made)
	cutoff := made.Add(n.skew)
	closed += n.reg.CloseIf(func(c *lifecycle.Conn) bool {
		return c.Subject() == rv.subject && !c.OpenedAt().After(cutoff)
	}, lifecycle.ErrSessionRevoked, lifecycle.StatusPolicyViolation, "session revoked")
	if closed > 0 {
		n.log.Info("cluster: revoked", "subject", rv.subject, "connections", closed, "from", rv.origin)
	}
}
