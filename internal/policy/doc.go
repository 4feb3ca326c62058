// Package policy is the plumbing that wsmw's policy packages (auth,
// timeout, ratelimit, queue) and the Upgrader of package middleware share,
// and that users never call: the reading of options ([ApplyOptions],
// [CloseOption], [LoggerOption]). It is internal: not part of the API. It
// must not import package middleware, which imports it.
package policy
