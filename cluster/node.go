package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wsmw/wsmw/internal/connx"
	"github.com/wsmw/wsmw/lifecycle"
)

// Defaults of a Node (and, for [DefaultTimeout], of a Store).
const (
	DefaultNodePrefix  = "wsmw:cluster:"
	DefaultTimeout     = time.Second
	DefaultRetention   = 10000
	DefaultClockSkew   = time.Second
	DefaultMaxPending  = 10000
	DefaultHealthCheck = time.Second
)

// Backoff between attempts to reach Redis again: short, since an attempt
// is cheap and the sooner one follows a failover, the sooner revocations
// flow again.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 500 * time.Millisecond
)

// Errors returned by Revoke.
var (
	// ErrPending: Redis could not be reached; the revocation was applied
	// locally and is queued until Redis is back. The Redis error is wrapped
	// with it.
	ErrPending = errors.New("cluster: revocation applied locally, queued for the other servers")
	// ErrClosed: the Node is closed; the revocation was applied locally
	// only.
	ErrClosed = errors.New("cluster: node closed")
)

// Node is one server's share of cluster revocation: it publishes this
// server's revocations and applies everyone's to its Registry. Make one per
// Registry with New and Close it on shutdown.
type Node struct {
	client    redis.UniversalClient
	honours   bool // client ends calls at the context's deadline
	reload    reloader
	reg       *lifecycle.Registry
	id        string
	channel   string
	stream    string
	timeout   time.Duration
	retention int64
	skew      time.Duration
	health    time.Duration
	maxPend   int
	log       *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	subscribed atomic.Bool
	epochs     atomic.Uint64 // makes each epoch this Node proposes unique

	// The subscriber goroutine's own state.
	from    streamID // the next stream entry to read
	epoch   string   // the epoch of the stream's entries last read, "" before any
	started bool     // subscribed at least once
	down    bool     // a loss of the subscription was logged

	mu      sync.Mutex
	ps      *redis.PubSub    // the current subscription, closed by Close
	pending map[string]int64 // subject → revocation time (Unix ms) not yet published
	kick    chan struct{}    // wakes the publisher
	known                    // the revocations in force, to publish again if Redis loses them
}

func (n *Node) setPrefix(p string) { n.channel, n.stream = p+"revoke", p+"revocations" }

// New starts a Node that applies the cluster's revocations to reg through
// client (a *redis.Client, a *redis.ClusterClient or a failover client). It
// never waits for Redis: when Redis is down, the Node keeps trying in the
// background. Closing client stays the caller's job, after Close. opts are
// those that apply to New ([WithPrefix], [WithTimeout], [WithLogger],
// [WithRetention], [WithClockSkew], [WithHealthCheck], [WithMaxPending]); any
// other makes New panic.
func New(client redis.UniversalClient, reg *lifecycle.Registry, opts ...Option) *Node {
	if client == nil || reg == nil {
		panic("cluster: New needs a Redis client and a *lifecycle.Registry")
	}
	var id [8]byte
	rand.Read(id[:])
	n := &Node{
		client:    client,
		honours:   honoursContext(client),
		reg:       reg,
		id:        hex.EncodeToString(id[:]),
		timeout:   DefaultTimeout,
		retention: DefaultRetention,
		skew:      DefaultClockSkew,
		health:    DefaultHealthCheck,
		maxPend:   DefaultMaxPending,
		log:       slog.Default(),
		pending:   make(map[string]int64),
		kick:      make(chan struct{}, 1),
	}
	n.setPrefix(DefaultNodePrefix)
	applyNode(n, opts)
	n.reload = newReloader(client, n.log)
	n.known.init()
	// Catch up on the revocations that still hold: those made within the
	// Registry's revocation TTL, so that a server started after a
	// revocation refuses the revoked subject's older tokens too.
	n.from = streamID{ms: uint64(max(time.Now().Add(-connx.RevocationTTL(reg)-n.skew).UnixMilli(), 0))}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.wg.Add(2)
	go n.subscribeLoop()
	go n.publishLoop()
	return n
}

// ID returns the Node's random identity, carried by its revocations.
func (n *Node) ID() string { return n.id }

// Subscribed reports whether the Node is listening to the cluster's
// revocations right now: its subscription is up, has caught up, and
// answered its last health check (see [WithHealthCheck]). It turns false
// when Redis is found silent or gone, within two health checks of a
// frozen Redis.
func (n *Node) Subscribed() bool { return n.subscribed.Load() }

// Pending returns how many of this Node's revocations wait for Redis to be
// published.
func (n *Node) Pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.pending)
}

// Close stops the Node and waits for its goroutines. Queued revocations
// that were never published are dropped, and logged. It does not close the
// Redis client. A subscription being opened to a Redis that does not answer
// can delay Close by up to the client's own ReadTimeout.
func (n *Node) Close() error {
	n.mu.Lock()
	n.cancel()
	ps := n.ps
	n.ps = nil
	dropped := len(n.pending)
	n.mu.Unlock()
	if ps != nil {
		ps.Close() // unblocks the subscriber's read
	}
	n.wg.Wait()
	if dropped > 0 {
		n.log.Warn("cluster: node closed with unpublished revocations", "count", dropped)
	}
	return nil
}

// sleep waits for d or for Close; it reports whether the Node still runs.
func (n *Node) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-n.ctx.Done():
		return false
	}
}

func nextBackoff(d time.Duration) time.Duration { return min(2*d, maxBackoff) }
