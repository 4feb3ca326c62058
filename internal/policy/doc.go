// Package policy is the plumbing that wsmw's policy packages (auth,
// timeout, ratelimit, queue), the Upgrader of package middleware and the
// modules that observe connections (metrics, otel, the gqlgen adapter)
// share, and that users never call: the reading of options
// ([ApplyOptions], [CloseOption], [LoggerOption]), the per-request
// [State] that policies leave for the upgrade (attachments, upgrade
// checks, the subject, a fallback subprotocol, context values), the
// decisions policies report ([ReportDecision]), the logging of refused
// upgrades ([LogRefusal]) and the context a connection keeps
// ([ConnContext]). It is internal: not part of the API. It must not import
// package middleware, which imports it.
package policy
