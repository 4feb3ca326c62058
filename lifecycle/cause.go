package lifecycle

// Cause is a named reason for a connection's end. The sentinel causes of
// wsmw's packages ([ErrPeerClosed], timeout.ErrSessionExpired, …) are Causes,
// and an application can make its own. Its name is a short, stable label
// made for metrics (the metrics module labels a close with the name of the
// first Cause in [CloseInfo.Cause]'s chain); its text is the error message.
// Compare causes with errors.Is.
type Cause struct{ name, text string }

// NewCause returns a Cause named name (lower case and underscores, such
// as "session_expired") whose error text is text.
func NewCause(name, text string) *Cause { return &Cause{name: name, text: text} }

// Error returns the cause's text.
func (c *Cause) Error() string { return c.text }

// Name returns the cause's label.
func (c *Cause) Name() string { return c.name }
