package lifecycle

// WriteWaits reports whether a write of c's owned socket has waited for
// room (the socket watches writability from then on).
func WriteWaits(c *Conn) bool {
	ec := c.ownedSocket()
	if ec == nil {
		return false
	}
	w := ec.waits.Load()
	return w != nil && w.watching.Load()
}
