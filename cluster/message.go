package cluster

import (
	"errors"
	"strconv"
	"strings"
)

// streamID is a Redis stream entry ID, "ms-seq".
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) (streamID, error) {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return streamID{}, errors.New("cluster: bad stream ID " + strconv.Quote(s))
	}
	var id streamID
	var err1, err2 error
	id.ms, err1 = strconv.ParseUint(ms, 10, 64)
	id.seq, err2 = strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil {
		return streamID{}, errors.New("cluster: bad stream ID " + strconv.Quote(s))
	}
	return id, nil
}

func (id streamID) String() string {
	return strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

// next returns the smallest ID after id.
func (id streamID) next() streamID {
	if id.seq == ^uint64(0) {
		return streamID{ms: id.ms + 1}
	}
	return streamID{ms: id.ms, seq: id.seq + 1}
}

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || id.ms == o.ms && id.seq < o.seq
}

// revocation is one entry of the stream and one message on the channel.
type revocation struct {
	id      streamID
	subject string
	before  int64  // Unix ms when it was made, by its node's clock
	origin  string // the ID of the node that made it
	epoch   string // the stream's epoch
}

// parseMessage reads a channel message: "<id> <before> <origin>/<epoch>
// <subject>"; the subject is last, so it may hold spaces.
func parseMessage(payload string) (revocation, error) {
	f := strings.SplitN(payload, " ", 4)
	if len(f) != 4 {
		return revocation{}, errors.New("cluster: malformed revocation message")
	}
	id, err := parseStreamID(f[0])
	if err != nil {
		return revocation{}, err
	}
	before, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return revocation{}, errors.New("cluster: malformed revocation time")
	}
	origin, epoch, _ := strings.Cut(f[2], "/")
	return revocation{id: id, before: before, origin: origin, epoch: epoch, subject: f[3]}, nil
}

// parseEntry reads a stream entry's fields: s (subject), b (before), o
// (origin), e (epoch).
func parseEntry(id string, values map[string]any) (revocation, error) {
	sid, err := parseStreamID(id)
	if err != nil {
		return revocation{}, err
	}
	subject, ok1 := values["s"].(string)
	b, ok2 := values["b"].(string)
	origin, _ := values["o"].(string)
	epoch, _ := values["e"].(string)
	before, err := strconv.ParseInt(b, 10, 64)
	if !ok1 || !ok2 || err != nil {
		return revocation{id: sid, epoch: epoch}, errors.New("cluster: malformed revocation entry " + id)
	}
	return revocation{id: sid, subject: subject, before: before, origin: origin, epoch: epoch}, nil
}

func (id streamID) isZero() bool { return id == streamID{} }
