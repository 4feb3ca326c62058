// Package gqlws puts gqlgen's GraphQL subscriptions behind wsmw; its name
// is not gqlgen's, so that both import under their own names. An
// Adapter is gqlgen's transport.WebsocketImplementation: the upgrade goes
// through wsmw, so the policies in front of it (Origin, limits, JWT, session
// expiry, heartbeat, hooks, metrics, the Registry's shutdown and
// revocation) apply to GraphQL connections exactly as to wsmw.Handler's,
// and every close — gqlgen's own, the protocol's, a policy's — goes
// through the connection's one arbiter: one Close frame, OnClose once, the
// true cause.
//
//	reg := wsmw.NewRegistry()
//	authn, _ := auth.New(wsmw.HMAC(secret), auth.WithTokenOptional())
//	gql := gqlws.New(reg, gqlws.WithAuthenticator(authn)) // token in connection_init
//
//	srv := handler.New(graph.NewExecutableSchema(cfg))
//	srv.AddTransport(gql.Websocket(transport.Websocket{KeepAlivePingInterval: 10 * time.Second}))
//	srv.AddTransport(transport.POST{})
//
//	r.With(authn.Middleware,
//		wsmw.MaxConns(5, wsmw.WithKey(wsmw.KeyBySubject)), // per user, in band too
//		wsmw.SessionExpiry(30*time.Minute, wsmw.WithClose(wsmw.StatusGoingAway, "session expired")),
//		wsmw.Heartbeat(20*time.Second, 20*time.Second, wsmw.WithClose(wsmw.StatusGoingAway, "keepalive ping timeout")),
//		wsmw.OnClose(logClose),
//	).Handle("/query", gql.Handler(srv))
//
// Both subprotocols that gqlgen speaks are offered: graphql-transport-ws
// (the npm graphql-ws client) first, and the legacy graphql-ws
// (subscriptions-transport-ws), which a client that offers none also gets.
//
// # In-band authentication
//
// Browsers cannot set headers on a WebSocket, so GraphQL clients send the
// token in connection_init's payload ({"token": "<jwt>"}, or
// "Authorization": "Bearer <jwt>"). With [WithAuthenticator], the InitFunc
// that Websocket installs validates it with the same auth configuration as
// the upgrade and binds the session to it (auth.Authenticator.Authenticate):
// the token's subject becomes the connection's, so Registry.Revoke finds
// it, and the subject's revocation holds against the token; the
// connection closes at exp with 1008 "token expired" (4403 with
// [WithReconnectOnTokenExpiry]); ClaimsOf, auth.ClaimsFromContext (in
// resolvers) and Refresh work. A connection
// authenticated at the upgrade needs no token at init; one that sends one
// anyway refreshes its session, which must keep its subject. A missing or
// refused token closes with 4403. The whole exchange is bounded by the
// init timeout ([WithInitTimeout], 10 s by default): no connection_ack by then
// closes with 4408. Use auth.WithTokenOptional on the JWT policy in front, so
// that an upgrade without a token gets through (a bad one is still 401).
//
// A per-subject connection cap after the JWT policy
// (wsmw.MaxConns(n, wsmw.WithKey(wsmw.KeyBySubject)), in memory or, with
// the cluster module's store, across servers) counts these connections
// too: the slot is taken when connection_init's token sets the subject,
// and released exactly once when the connection ends. A subject that holds
// every slot is refused at connection_init with 1013 "too many
// connections" (a token at the upgrade gets 429 instead, as ever).
//
// # Close codes on a GraphQL connection
//
// What the npm graphql-ws client (6.x) does with each: it retries 1001,
// 1005, 1006, 1012, 1013, 1014 and 4xxx codes other than those below,
// calling its connectionParams again, after a randomised exponential
// backoff (1.3-4 s before the first retry, then about twice as long each
// time; the count starts again at each connection_ack), up to
// retryAttempts (5 by default); it retries 1000 at once while a
// subscription is open; it treats the other 1000–1999 codes and 4400, 4401,
// 4406, 4409, 4429, 4500 as fatal, passing the close to every
// subscription's error callback. A retry that cannot connect at all (the
// server not back yet: ECONNREFUSED) is an error, not a close, and its
// default shouldRetry retries closes only: the first refused retry ends
// it, retries left or not (see Client settings).
//
//	cause                                   code   reason                             graphql-ws client
//	no or bad token at connection_init      4403   Forbidden: <why>                   retries, asking connectionParams again
//	revoked subject's older token at init   4403   Forbidden: token revoked           retries, asking connectionParams again
//	InitFunc error, no code chosen          4403   Forbidden                          retries
//	no connection_ack in the init timeout   4408   connection initialisation timeout  retries
//	per-subject cap full (MaxConns)         1013   too many connections               retries with backoff
//	invalid message, gqlgen protocol error  4400   Invalid message …                  fatal (a client bug)
//	subscribe before connection_init        4401   Unauthorized                       fatal
//	second connection_init                  4429   Too many initialisation requests   fatal
//	subprotocol gqlgen does not speak       4406   Subprotocol not acceptable         fatal
//	token expired during the session        1008   token expired                      fatal: get a new token, resubscribe
//	  with WithReconnectOnTokenExpiry       4403   Forbidden: token expired           retries, asking connectionParams again
//	Registry.Revoke                         1008   session revoked                    fatal: stay out
//	server shutdown                         1001   server shutting down               retries once the backoff has passed
//	Registry.Restart                        1012   server restarting                  retries once the backoff has passed
//	SessionExpiry, default code             1008   session expired                    fatal; WithClose(1001, …) retries
//	Heartbeat: no pong, default code        1011*  keepalive ping timeout             fatal; WithClose(1001, …) retries
//	PingPongInterval: no pong               1001*  keepalive ping timeout             retries
//	message too big                         1009   message too big                    fatal
//	message rate exceeded                   1008   rate limit exceeded                fatal
//	invalid UTF-8                           1007   invalid utf-8                      fatal
//	legacy connection_terminate             1000   terminated                         (legacy client)
//	gqlgen panicked or returned unclosed    1011   internal error                     fatal
//
// * best effort, reported as 1006 abnormal: a dead peer reads nothing.
//
// Revocation holds with no option: after Registry.Revoke the subject's
// tokens issued before it are refused, 401 at the upgrade and 4403
// "Forbidden: token revoked" at connection_init (see
// auth.Authenticator.Middleware), so a client that reconnects with the
// token it had stays out, and one that signs in again gets in.
//
// Token expiry is fatal by default: a retried code would make the client
// re-run connectionParams silently, and a client that hands back the token
// it was given would be refused (4403) until its retries run out. A fatal
// code tells the application at once, with the reason, to get a new token
// (or to sign in again) and resubscribe. Clients whose connectionParams
// mint a fresh token are better served by [WithReconnectOnTokenExpiry]: the
// expiry becomes a 4403 that graphql-ws retries, and the subscription goes
// on after the retry wait. A maximum lifetime or a missed pong says nothing
// about the credentials: with 1001 the client reconnects on its own,
// re-authenticating through its connectionParams.
//
// A full per-subject cap gets 1013 ("Try Again Later", RFC 6455's code for
// a temporary condition) because a retry can succeed with the very same
// token: a slot frees up when another of the user's connections ends, and
// with the cluster store the leases of a server that died expire (30 s by
// default), which the client's default backoff (5 retries, 1 s doubling to
// 16 s plus up to 3 s of jitter each: 30-45 s in all) spans. The retries
// are bounded and spaced, so they do not hammer the server; when they run
// out, the error callback gets 1013 "too many connections" and the
// application can say why. 4403 would be retried too but reads as a
// refused token (an application would fetch a new one for nothing); 1008,
// the fatal 44xx codes or 4429 would strand a client that a moment's wait
// would have let in (and 4429 means a second connection_init, not too many
// connections). A per-subject cap whose Store fails, with WithFailClosed,
// gets 1013 too ("connection limit unavailable").
//
// Before the upgrade (401 for a bad token in a header, 403 Origin, 429,
// 503 while draining) the client sees a failed connection, not a close,
// and does not retry by default.
//
// # Client settings
//
// For the npm graphql-ws client: connectionParams as a function, which it
// calls at every connection, retries included, so that it can hand back a
// fresh token; and shouldRetry: () => true, so that a restart that takes
// longer than the first retry wait (1.3-4 s) does not end every
// subscription at the first refused connection. Fatal codes stay fatal
// with it.
//
//	const client = createClient({
//	  url: 'wss://example.com/query',
//	  connectionParams: async () => ({ token: await getFreshToken() }),
//	  shouldRetry: () => true, // retry refused connections too (a restart)
//	  retryAttempts: 10,       // 1, 2, 4 … 512 s apart: about 17 minutes
//	});
//
// # gqlgen settings
//
// Leave gqlgen's InitTimeout at zero (Websocket clears it): it closes with
// 1002. Prefer wsmw's Heartbeat to gqlgen's PingPongInterval: WebSocket
// pings are answered by every client, for both subprotocols, and measured;
// PingPongInterval (graphql-transport-ws only) still works, its deadline
// mapped to a connection timer. Keep KeepAlivePingInterval for legacy
// clients: subscriptions-transport-ws drops a connection whose "ka" messages
// stop once it has seen the first, which gqlgen always sends. gqlgen's
// PayloadReadLimit and wsmw's read limit both apply (the stricter wins).
// CloseFunc receives gqlgen's idea of the code (1000 after most ends), not
// the true one: use OnClose. gqlgen's ErrorFunc still sees read and write
// errors after a close; those of an end that is no failure match
// transport.ErrWebsocketClosed, and all of them *lifecycle.CloseError.
//
// gqlgen runs each connection in its request's goroutine (unlike
// wsmw.Handler, which returns it to net/http), so a GraphQL connection holds
// net/http's per-request buffers for its lifetime.
package gqlws
