// Package middleware is wsmw's net/http glue. A policy is a plain
// func(http.Handler) http.Handler: for a request that is not a WebSocket
// upgrade it calls next unchanged; for an upgrade it may answer with an HTTP
// error itself (401, 403, 429) and stop, or it attaches a function to the
// request context that runs on the *lifecycle.Conn right after the upgrade,
// before the handler. Upgrade and Handler perform the upgrade, run the
// attachments and the OnOpen hooks, and run the handler in a fresh goroutine
// so that net/http can release the request's buffers.
package middleware
