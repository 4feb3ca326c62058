package metrics_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/metrics"
	"github.com/wsmw/wsmw/middleware"
	"github.com/wsmw/wsmw/timeout"
)

// The middleware goes first, in front of every other policy, and the
// collectors are served from the same registry.
func Example() {
	prom := prometheus.NewRegistry()
	m, err := metrics.New(prom)
	if err != nil {
		panic(err)
	}
	reg := lifecycle.NewRegistry()
	refuse := func(http.Handler) http.Handler { // stands for an auth policy
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		})
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", m.Middleware(refuse(middleware.Handler(reg, func(c *lifecycle.Conn, _ *http.Request) {}))))
	mux.Handle("/metrics", promhttp.HandlerFor(prom, promhttp.HandlerOpts{}))

	req := httptest.NewRequest(http.MethodGet, "/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	mux.ServeHTTP(httptest.NewRecorder(), req)

	families, _ := prom.Gather()
	for _, f := range families {
		if f.GetName() != "wsmw_rejections_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			fmt.Println(s.GetLabel()[0].GetValue(), s.GetCounter().GetValue())
		}
	}
	// Output:
	// 401 1
	// 403 0
	// 429 0
	// 503 0
}

// CauseName turns a close cause into a bounded label value.
func ExampleCauseName() {
	fmt.Println(metrics.CauseName(timeout.ErrIdleTimeout))
	fmt.Println(metrics.CauseName(fmt.Errorf("%w: read: EOF", lifecycle.ErrConnectionLost)))
	fmt.Println(metrics.CauseName(errors.New("something new")))
	fmt.Println(metrics.CauseName(nil))
	// Output:
	// idle_timeout
	// connection_lost
	// other
	// none
}

// A cause of your own gets its own label value.
func ExampleWithCause() {
	errKicked := errors.New("kicked by a moderator")
	_, err := metrics.New(prometheus.NewRegistry(), metrics.WithCause(errKicked, "kicked"))
	fmt.Println(err)
	// Output: <nil>
}
