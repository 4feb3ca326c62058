package gqlws_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/go-chi/chi/v5"

	"github.com/wsmw/wsmw"
	"github.com/wsmw/wsmw/auth"

	"github.com/wsmw/wsmw/gqlgen/example/graph"
	"github.com/wsmw/wsmw/gqlgen/gqlws"
)

// A gqlgen server whose subscriptions run behind wsmw, with the token in
// connection_init's payload.
func Example() {
	reg := wsmw.NewRegistry()
	authn, err := auth.New(wsmw.HMAC(secret), auth.WithTokenOptional())
	if err != nil {
		panic(err)
	}
	gql := gqlws.New(reg, gqlws.WithAuthenticator(authn), gqlws.WithInitTimeout(10*time.Second))

	srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}))
	srv.AddTransport(gql.Websocket(transport.Websocket{KeepAlivePingInterval: 10 * time.Second}))
	srv.AddTransport(transport.POST{})

	r := chi.NewRouter()
	r.With(
		authn.Middleware,
		wsmw.MaxConns(5, wsmw.WithKey(wsmw.KeyBySubject)), // counted when connection_init's token arrives
		wsmw.SessionExpiry(30*time.Minute, wsmw.WithClose(wsmw.StatusGoingAway, "session expired")),
		wsmw.Heartbeat(20*time.Second, 20*time.Second, wsmw.WithClose(wsmw.StatusGoingAway, "keepalive ping timeout")),
		wsmw.OnClose(func(c *wsmw.Conn, info wsmw.CloseInfo) {
			slog.Info("ws closed", "code", int(info.Code), "cause", info.Cause, "subject", c.Subject())
		}),
	).Handle("/query", gql.Handler(srv))

	// In a real server: go srv.ListenAndServe(); on SIGTERM, reg.ShutdownServer(ctx, srv).
	srv2 := httptest.NewServer(r)
	defer srv2.Close()
	defer reg.Shutdown(context.Background())

	// Queries go over HTTP; subscriptions over the WebSocket, through wsmw.
	res, err := http.Post(srv2.URL+"/query", "application/json", strings.NewReader(`{"query":"{ hello }"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Println(res.StatusCode, string(body))
	// Output: 200 {"data":{"hello":"hello"}}
}
