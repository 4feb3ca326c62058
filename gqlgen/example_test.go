package gqlgen_test

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/go-chi/chi/v5"

	"github.com/wsmw/wsmw"
	"github.com/wsmw/wsmw/auth"

	wsgqlgen "github.com/wsmw/wsmw/gqlgen"
	"github.com/wsmw/wsmw/gqlgen/example/graph"
)

// A gqlgen server whose subscriptions run behind wsmw, with the token in
// connection_init's payload.
func Example() {
	reg := wsmw.NewRegistry()
	authn, err := auth.New(auth.HMAC(secret), auth.WithTokenOptional())
	if err != nil {
		panic(err)
	}
	gql := wsgqlgen.New(reg, wsgqlgen.WithAuthenticator(authn), wsgqlgen.WithInitTimeout(10*time.Second))

	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}))
	srv.AddTransport(gql.Websocket(transport.Websocket{KeepAlivePingInterval: 10 * time.Second}))
	srv.AddTransport(transport.POST{})

	r := chi.NewRouter()
	r.With(
		authn.Middleware,
		wsmw.SessionExpiry(30*time.Minute, wsmw.WithClose(wsmw.StatusGoingAway, "session expired")),
		wsmw.Heartbeat(20*time.Second, 20*time.Second, wsmw.WithClose(wsmw.StatusGoingAway, "keepalive ping timeout")),
		wsmw.OnClose(func(c *wsmw.Conn, info wsmw.CloseInfo) {
			slog.Info("ws closed", "code", int(info.Code), "cause", info.Cause, "subject", c.Subject())
		}),
	).Handle("/query", gql.Handler(srv))

	httpSrv := &http.Server{Addr: "127.0.0.1:8081", Handler: r, ReadHeaderTimeout: 5 * time.Second}
	_ = httpSrv // go httpSrv.ListenAndServe(); on SIGTERM: reg.ShutdownServer(ctx, httpSrv)
}
