package queue_test

import (
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/queue"
)

// The queue's tests use conntest's in-memory peers (for synctest bubbles)
// and real TCP servers.

func discard(c *lifecycle.Conn) { queue.DiscardMessages(c) }

// The bounds of a Queue made without options (WithMaxMessages'
// and WithMaxBytes' docs state them).
const (
	defaultMaxMessages = 256
	defaultMaxBytes    = 1 << 20
)
