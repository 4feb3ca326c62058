package cluster

import (
	"fmt"
	"log/slog"
	"time"
)

// Option configures New (a Node), [NewStore] (a Store) or both: each With
// function says which it applies to. Given to a constructor it does not
// apply to, an option makes that constructor panic, as does a value that
// means nothing (a negative duration, say): a misplaced option is a
// mistake to find at start-up, never one to ignore silently.
type Option interface {
	// OptionName returns the name of the function that made the option,
	// such as "WithLeaseTTL".
	OptionName() string
}

// option is the only implementation of Option: what it does to a Node, to
// a Store, or nil where it does not apply.
type option struct {
	name  string
	node  func(*Node)
	store func(*Store)
}

func (o option) OptionName() string { return o.name }

// applyNode applies opts to n, and panics on one that does not apply.
func applyNode(n *Node, opts []Option) {
	for _, o := range opts {
		op, ok := o.(option)
		if !ok || op.node == nil {
			panic(misplaced(o, "New"))
		}
		op.node(n)
	}
}

// applyStore applies opts to s, and panics on one that does not apply.
func applyStore(s *Store, opts []Option) {
	for _, o := range opts {
		op, ok := o.(option)
		if !ok || op.store == nil {
			panic(misplaced(o, "NewStore"))
		}
		op.store(s)
	}
}

func misplaced(o Option, ctor string) string {
	switch o.(type) {
	case nil:
		return "cluster: nil Option given to " + ctor
	case option:
		return "cluster: " + o.OptionName() + " does not apply to " + ctor
	default:
		return fmt.Sprintf("cluster: %s (%T) is not an option of package cluster, given to %s", o.OptionName(), o, ctor)
	}
}

func positive(name string, d time.Duration) {
	if d <= 0 {
		panic(fmt.Sprintf("cluster: %s needs a positive duration, got %v", name, d))
	}
}

// WithPrefix sets the prefix of the Redis keys. It applies to New and
// [NewStore], each with its own default so that a Node and a Store on one
// Redis never share keys: for a Node, the prefix of its stream and channel
// ([DefaultNodePrefix]; Nodes that share a prefix form one cluster); for a
// Store, the prefix of its keys ([DefaultStorePrefix]; Stores that share a
// prefix share their limits).
func WithPrefix(p string) Option {
	return option{
		name:  "WithPrefix",
		node:  func(n *Node) { n.setPrefix(p) },
		store: func(s *Store) { s.prefix = p },
	}
}

// WithTimeout bounds Redis calls ([DefaultTimeout]); d must be positive.
// Every call returns within d even when the go-redis client's own timeouts
// are longer (its ReadTimeout is 5 s by default, per retry): unless the
// client was made with ContextTimeoutEnabled, the call runs in a goroutine
// of its own, left to end in the background at the bound. It applies to
// New and [NewStore]: a Node bounds every Redis call it makes (Revoke's
// too); a Store bounds Take, Acquire and Held (within the request's
// context, if sooner) and the calls no request makes (releasing a slot,
// refreshing leases, Close).
func WithTimeout(d time.Duration) Option {
	positive("WithTimeout", d)
	return option{
		name:  "WithTimeout",
		node:  func(n *Node) { n.timeout = d },
		store: func(s *Store) { s.timeout = d },
	}
}

// WithLogger sets the logger (slog.Default); l must not be nil. It applies
// to New and [NewStore]: a Node logs losing and regaining Redis and the
// revocations it applies; a Store logs failed releases and lease refreshes
// (at most once every 10 seconds, with the number of failures in between).
func WithLogger(l *slog.Logger) Option {
	if l == nil {
		panic("cluster: WithLogger needs a non-nil *slog.Logger")
	}
	return option{
		name:  "WithLogger",
		node:  func(n *Node) { n.log = l },
		store: func(s *Store) { s.log = l },
	}
}

// WithLeaseTTL sets how long a connection slot outlives the server that
// holds it ([DefaultLeaseTTL]); the Store extends its leases every TTL/3, so
// d must be at least 3ms. It applies to [NewStore] only.
func WithLeaseTTL(d time.Duration) Option {
	if d < 3*time.Millisecond {
		panic(fmt.Sprintf("cluster: WithLeaseTTL needs at least 3ms (leases are extended every TTL/3), got %v", d))
	}
	return option{name: "WithLeaseTTL", store: func(s *Store) { s.ttl = d }}
}

// WithRetention sets about how many revocations the stream keeps for
// catching up ([DefaultRetention]); entries must be positive. A Node cut off
// for longer than it takes to make that many revocations misses the oldest
// of them. It applies to New only.
func WithRetention(entries int64) Option {
	if entries <= 0 {
		panic(fmt.Sprintf("cluster: WithRetention needs a positive number of entries, got %d", entries))
	}
	return option{name: "WithRetention", node: func(n *Node) { n.retention = entries }}
}

// WithClockSkew sets how far the servers' clocks may disagree
// ([DefaultClockSkew]); d must not be negative. A revocation made at time T
// closes the connections opened before T plus the skew: larger values err
// on the side of closing a connection opened just after the revocation. It
// applies to New only.
func WithClockSkew(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("cluster: WithClockSkew needs a duration of zero or more, got %v", d))
	}
	return option{name: "WithClockSkew", node: func(n *Node) { n.skew = d }}
}

// WithHealthCheck sets how long the subscription may stay silent before
// the Node pings Redis, and then how long it waits for the answer before it
// subscribes again ([DefaultHealthCheck], 1 s); an attempt to subscribe is
// given up after 2d. A frozen Redis (a stopped process, a host that stopped
// answering) keeps its sockets open and silent: the Node notices within
// 2d, and Subscribed turns false. d must be positive. It applies to New
// only.
func WithHealthCheck(d time.Duration) Option {
	positive("WithHealthCheck", d)
	return option{name: "WithHealthCheck", node: func(n *Node) { n.health = d }}
}

// WithMaxPending bounds the revocations queued while Redis is unreachable
// ([DefaultMaxPending]); beyond it the oldest is dropped, and logged. max
// must be positive. It applies to New only.
func WithMaxPending(max int) Option {
	if max <= 0 {
		panic(fmt.Sprintf("cluster: WithMaxPending needs a positive number, got %d", max))
	}
	return option{name: "WithMaxPending", node: func(n *Node) { n.maxPend = max }}
}
