// Package middleware is wsmw's net/http glue: [Handler] and [EventHandler]
// (and the [Upgrader] under them), the [Option] convention with the
// options every policy shares ([WithClose], [WithLogger]), the Origin
// check, and the way to write a policy of one's own.
//
// A policy is a plain func(http.Handler) http.Handler: for a request that
// is not a WebSocket upgrade it calls next unchanged; for an upgrade it may
// answer with an HTTP error itself (401, 403, 429) and stop, or leave a
// function that runs on the *lifecycle.Conn right after the upgrade,
// before the handler ([Policy]), a hook that runs when the connection has
// ended ([OnClose], [AddCloseHook]), or a value for the connection's
// context ([WithValue]). The handler performs the upgrade, runs those
// functions and the [OnOpen] hooks, and runs the application's function
// in a fresh goroutine so that net/http can release the request's buffers.
package middleware
