// Package policy is the plumbing that wsmw's policy packages (auth,
// timeout, ratelimit, queue), the Upgrader of package middleware and the
// modules that observe connections (metrics, otel, the gqlgen adapter)
// share, and that users never call: the reading of options ([ApplyOptions],
// [CloseOption], [LoggerOption]), the per-request [State] that policies
// leave for the upgrade ([Attach], [BeforeUpgrade], [WithSubject],
// [WithFallbackSubprotocol], [WithValue]), the decisions policies report
// ([ReportDecision]), the logging of refused upgrades ([LogRefusal]), the
// context a connection keeps ([ConnContext]) and the close a protocol
// adapter chooses for a token's expiry ([SetExpiryClose]). It is internal:
// not part of the API. It must not import package middleware, which imports
// it.
package policy
