package lifecycle

// finish ends the connection: TCP is closed, the [CloseInfo] settled from
// the decision and the frames that went over the wire, the Registry left,
// and the OnClose hooks run. Only its first call does anything.
func (c *Conn) finish() {
	if c.state() == stateOpen {
		c.decide(abnormalDecision(ErrConnectionLost)) // every path decides first; this is a safety net
	}
	if !c.end.state.CompareAndSwap(uint32(stateClosing), uint32(stateFinishing)) {
		return // finishing already
	}
	c.leaveEvents() // before the socket closes: its descriptor may be reused
	c.ws.NetConn().Close()
	d := c.end.decided
	d.sendMu.Lock() // after a Close frame being written (it fails fast now)
	sent := d.sent.Load()
	d.sendMu.Unlock()
	info := settle(&d.end, sent, d.received.Load())
	info.Duration = c.sinceOpen()

	c.mu.Lock()
	c.waitersLocked().info = info
	hooks := c.lists.hookList()
	c.lists.hooks, c.lists.nHooks = nil, 0
	c.end.state.Store(uint32(stateHooking))
	reg := c.reg
	if reg != nil {
		reg.remove(c, c.subjectLocked())
	}
	c.mu.Unlock()

	for _, h := range hooks {
		c.runHook(h, info)
	}
	c.mu.Lock()
	c.end.state.Store(uint32(stateEnded))
	if c.waiters != nil && c.waiters.done != nil {
		close(c.waiters.done)
	}
	c.mu.Unlock()
	if reg != nil {
		reg.ended(c)
	}
}

// settle turns the decision and the frames that went over the wire into
// the [CloseInfo]: what it reports is what the wire carried. A local close
// whose Close frame could not be written is reported as what happened
// instead: the peer's close when its Close frame arrived (the two crossed,
// and ours never left), otherwise the abnormal end it was (1006, with the
// reason and cause of the close that was asked for).
func settle(end *CloseError, sent, received *CloseFrame) CloseInfo {
	info := CloseInfo{
		Code:      end.Code,
		Reason:    end.Reason,
		Initiator: end.Initiator,
		Cause:     end.Cause,
		Sent:      sent,
		Received:  received,
	}
	if end.Initiator == InitiatorLocal {
		switch {
		case sent == nil && received != nil:
			info.Code, info.Reason, info.Initiator, info.Cause = received.Code, received.Reason, InitiatorPeer, ErrPeerClosed
		case sent == nil:
			info.Code, info.Initiator = StatusAbnormalClosure, InitiatorAbnormal
		case sent.Code != end.Code || sent.Reason != end.Reason:
			info.Code, info.Reason = sent.Code, sent.Reason // gorilla's own 1002 went first
		}
	}
	info.HandshakeComplete = sent != nil && received != nil
	return info
}
