package policy

import (
	"context"

	"github.com/go-chi/chi/v5"
)

// chiRoute returns a copy of chi's route context in ctx, or nil when there
// is none or it holds no URL parameters. chi returns its *chi.Context to a
// pool when the router's ServeHTTP returns, which for a WebSocket is right
// after the upgrade, so chi.URLParamFromCtx on a connection's context
// would otherwise read another request's parameters.
func chiRoute(ctx context.Context) *chi.Context {
	rc := chi.RouteContext(ctx)
	if rc == nil || len(rc.URLParams.Keys) == 0 {
		return nil
	}
	cp := chi.NewRouteContext()
	cp.Routes = rc.Routes
	cp.RoutePath = rc.RoutePath
	cp.RouteMethod = rc.RouteMethod
	cp.RoutePatterns = append([]string(nil), rc.RoutePatterns...)
	cp.URLParams.Keys = append([]string(nil), rc.URLParams.Keys...)
	cp.URLParams.Values = append([]string(nil), rc.URLParams.Values...)
	return cp
}
