package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

// publishScript records a revocation in the stream (trimmed to about
// ARGV[1] entries) and announces it with its entry ID, in one step, so that
// the channel's order is the stream's order. Every entry and message
// carries the stream's epoch: that of the last entry, or ARGV[6] for the
// first one, so that a Node can tell a stream that Redis emptied and filled
// again from the one it read before.
//
// KEYS[1] stream; ARGV: retention, subject, before (ms), origin, channel,
// a new epoch.
var publishScript = redis.NewScript(`
local epoch = ARGV[6]
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then
  local f = last[1][2]
  for i = 1, #f, 2 do
    if f[i] == 'e' then epoch = f[i + 1] end
  end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 's', ARGV[2], 'b', ARGV[3], 'o', ARGV[4], 'e', epoch)
redis.call('PUBLISH', ARGV[5], id .. ' ' .. ARGV[3] .. ' ' .. ARGV[4] .. '/' .. epoch .. ' ' .. ARGV[2])
return id
`)

var errNotSubscribed = errors.New("not connected to redis")

// Revoke closes subject's connections on every server of the cluster with
// 1008 "session revoked" (cause [lifecycle.ErrSessionRevoked]). The local
// ones are closed at once, and Revoke returns how many; the others are
// closed by their own Node when the revocation reaches it.
//
// When the Node is not connected to Redis (see Subscribed), or Redis does
// not answer within the Node's timeout (or ctx's deadline, if sooner), the
// revocation is queued and published in the background as soon as Redis
// answers, and Revoke returns an error wrapping [ErrPending]: the other
// servers apply it late, to the connections that were open when it was
// made. Revoke never waits longer than the Node's timeout, whatever the
// Redis client's own timeouts: against a Redis that stopped answering, the
// call is left to finish in the background.
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
	id, err := bounded(ctx, n.honours, n.timeout, func(ctx context.Context) (string, error) {
		return publishScript.Run(ctx, n.client, []string{n.stream}, n.publishArgs(subject, before)...).Text()
	}, nil)
	if err == nil {
		err = n.published(subject, before, id)
	}
	if err != nil {
		n.reload.failed(err)
		n.queue(subject, before)
		n.log.Warn("cluster: redis unavailable; revocation queued", "err", err)
		return closed, fmt.Errorf("%w: %w", ErrPending, err)
	}
	return closed, nil
}

func (n *Node) publishArgs(subject string, before int64) []any {
	return []any{n.retention, subject, before, n.id, n.channel, n.id + "." + strconv.FormatUint(n.epochs.Add(1), 36)}
}

// published records a revocation that Redis stored as entry id.
func (n *Node) published(subject string, before int64, id string) error {
	sid, err := parseStreamID(id)
	if err != nil {
		return err
	}
	n.note(revocation{id: sid, subject: subject, before: before, origin: n.id})
	return nil
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

// publishLoop publishes the queued revocations, and those to publish again
// after Redis lost them, retrying with backoff while Redis stays
// unreachable.
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

// flushBatch is the most revocations published in one pipeline.
const flushBatch = 128

// flush publishes the queue and the revocations to publish again, a batch
// per pipeline, and reports whether none is left.
func (n *Node) flush() bool {
	for {
		n.mu.Lock()
		batch := make([]revocation, 0, min(len(n.pending), flushBatch))
		for s, b := range n.pending {
			if len(batch) == flushBatch {
				break
			}
			batch = append(batch, revocation{subject: s, before: b, origin: n.id})
		}
		own := len(batch)
		batch = append(batch, n.republishLocked(flushBatch-own)...)
		n.mu.Unlock()
		if len(batch) == 0 {
			return true
		}
		done, err := n.publishBatch(batch)
		n.mu.Lock()
		for i, rv := range batch[:done] {
			if i < own && n.pending[rv.subject] == rv.before {
				delete(n.pending, rv.subject)
			}
			n.noteLocked(rv)
		}
		n.mu.Unlock()
		if done > 0 {
			n.log.Info("cluster: published revocations", "queued", min(done, own), "again", max(done-own, 0))
		}
		if err != nil {
			n.reload.failed(err)
			if !errors.Is(err, context.Canceled) {
				n.log.Debug("cluster: cannot publish revocations yet", "err", err)
			}
			return false
		}
	}
}

// publishBatch publishes batch in one pipeline and returns how many of it,
// from the start, Redis stored (their IDs set in batch).
func (n *Node) publishBatch(batch []revocation) (int, error) {
	cmds, err := bounded(n.ctx, n.honours, n.timeout, func(ctx context.Context) ([]redis.Cmder, error) {
		pipe := n.client.Pipeline()
		for _, rv := range batch {
			publishScript.Eval(ctx, pipe, []string{n.stream}, n.publishArgs(rv.subject, rv.before)...)
		}
		return pipe.Exec(ctx)
	}, nil)
	for i, c := range cmds {
		id, cerr := c.(*redis.Cmd).Text()
		if cerr == nil {
			batch[i].id, cerr = parseStreamID(id)
		}
		if cerr != nil {
			return i, cerr
		}
	}
	if len(cmds) < len(batch) {
		return len(cmds), err
	}
	return len(batch), nil
}

// received handles an entry of the stream or a message of the channel.
func (n *Node) received(rv revocation) {
	n.note(rv)
	n.apply(rv)
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
	closed := connx.RevokeAt(n.reg, rv.subject, made)
	cutoff := made.Add(n.skew)
	skewed := false
	for _, c := range connx.SubjectConns(n.reg, rv.subject) {
		if at := connx.OpenedAt(c); at.After(made) && !at.After(cutoff) {
			skewed = true
		}
	}
	if skewed {
		closed += n.reg.CloseIf(func(c *lifecycle.Conn) bool {
			return c.Subject() == rv.subject && !connx.OpenedAt(c).After(cutoff)
		}, lifecycle.ErrSessionRevoked, lifecycle.StatusPolicyViolation, "session revoked")
	}
	if closed > 0 {
		n.log.Info("cluster: revoked", "subject", rv.subject, "connections", closed, "from", rv.origin)
	}
}
