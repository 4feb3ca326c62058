package policy

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// ConnContext returns the parent of the context of the connection that r
// becomes: a small context of its own that carries the values the
// policies left in st for the connection ([WithValue]) and a copy of chi's
// route parameters, and nothing else of the request; context.Background()
// when there is none of these. st may be nil. Keeping the request's
// context instead would keep net/http's context chain alive for the
// connection's whole life (two cancelled contexts, a Done channel, the
// request state: about 400 bytes a connection, a third of an idle
// event-mode connection); a handler that wants another of the request's
// values reads it from the request it is given. The connection's own
// context answers with its subject and the Conn's values besides
// (Conn.Context).
func ConnContext(r *http.Request, st *State) context.Context {
	var values []keyValue
	if st != nil {
		values = st.values
	}
	if rc := chiRoute(r.Context()); rc != nil {
		values = append(values[:len(values):len(values)], keyValue{chi.RouteCtxKey, rc})
	}
	if len(values) == 0 {
		return context.Background()
	}
	return &connValues{Context: context.Background(), values: values}
}

// connValues is the context [ConnContext] makes.
type connValues struct {
	context.Context
	values []keyValue
}

func (v *connValues) Value(key any) any {
	val, _ := lookup(v.values, key)
	return val
}
