package middleware

import (
	"context"

	"github.com/go-chi/chi/v5"
)

// snapshotChi replaces chi's route context in ctx with a copy (or with nil
// when the route has no URL parameters). chi returns
// its *chi.Context to a pool when the router's ServeHTTP returns, which for
// a WebSocket is right after the upgrade, so chi.URLParamFromCtx on a
// connection's context would otherwise read another request's parameters.
func snapshotChi(ctx context.Context) context.Context {
	rc := chi.RouteContext(ctx)
	if rc == nil {
		return ctx
	}
	if len(rc.URLParams.Keys) == 0 {
		// Nothing worth copying: hide the pooled context instead.
		return context.WithValue(ctx, chi.RouteCtxKey, (*chi.Context)(nil))
	}
	cp := chi.NewRouteContext()
	cp.Routes = rc.Routes
	cp.RoutePath = rc.RoutePath
	cp.RouteMethod = rc.RouteMethod
	cp.RoutePatterns = append([]string(nil), rc.RoutePatterns...)
	cp.URLParams.Keys = append([]string(nil), rc.URLParams.Keys...)
	cp.URLParams.Values = append([]string(nil), rc.URLParams.Values...)
	return context.WithValue(ctx, chi.RouteCtxKey, cp)
}
