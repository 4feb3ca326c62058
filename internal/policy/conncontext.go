package policy

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"github.com/wsmw/wsmw/lifecycle"
)

// ConnContext returns the parent of the context of the connection that r
// becomes: a small context of its own that carries what the policies left
// in st for the connection (the subject and the values of [WithValue]) and a
// copy of chi's route parameters, and nothing else of the request;
// context.Background() when there is none of these. st may be nil.
// Keeping the request's context instead would keep net/http's context
// chain alive for the connection's whole life (two cancelled contexts, a
// Done channel, the request state: about 400 bytes a connection, a third
// of an idle event-mode connection); a handler that wants another of the
// request's values reads it from the request it is given. Once the
// connection exists, give it to [BindConn].
func ConnContext(r *http.Request, st *State) context.Context {
	var cv connValues
	subject := ""
	if st != nil {
		subject, cv.values = st.subject, st.values
	}
	if rc := chiRoute(r.Context()); rc != nil {
		cv.values = append(cv.values[:len(cv.values):len(cv.values)], keyValue{chi.RouteCtxKey, rc})
	}
	if subject == "" && len(cv.values) == 0 {
		return context.Background()
	}
	cv.Context = context.Background()
	return &cv
}

// BindConn makes ctx, a context that [ConnContext] returned, answer
// [SubjectFromContext] with c's subject (Conn.Subject), which may change
// after the upgrade.
func BindConn(ctx context.Context, c *lifecycle.Conn) {
	if cv, ok := ctx.(*connValues); ok {
		cv.conn.Store(c)
	}
}

// connValues is the context [ConnContext] makes.
type connValues struct {
	context.Context
	values []keyValue
	conn   atomic.Pointer[lifecycle.Conn]
}

type connValuesKey struct{}

func (v *connValues) Value(key any) any {
	if key == (connValuesKey{}) {
		return v
	}
	val, _ := lookup(v.values, key)
	return val
}
