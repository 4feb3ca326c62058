package main

import (
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// receiver is an OTLP/HTTP receiver for tests, on the protocol's own
// messages (go.opentelemetry.io/proto/otlp): POST /v1/traces and
// /v1/metrics, binary protobuf, gzip or not.
type receiver struct {
	URL string

	mu       sync.Mutex
	spans    []*tracepb.Span
	services map[string]bool // service.name of the resources seen
	metrics  []*metricpb.Metric
	requests map[string]int // by path
	gzipped  int
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{services: make(map[string]bool), requests: make(map[string]int)}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "OTLP/HTTP wants a POST of application/x-protobuf", http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = r.Body
	gzipped := r.Header.Get("Content-Encoding") == "gzip"
	if gzipped {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var resp proto.Message
	switch r.URL.Path {
	case "/v1/traces":
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			rc.services[attrValue(rs.GetResource().GetAttributes(), "service.name")] = true
			for _, ss := range rs.GetScopeSpans() {
				rc.spans = append(rc.spans, ss.GetSpans()...)
			}
		}
		rc.mu.Unlock()
		resp = &coltracepb.ExportTraceServiceResponse{}
	case "/v1/metrics":
		var req colmetricpb.ExportMetricsServiceRequest
		if err := proto.Unmarshal(data, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				rc.metrics = append(rc.metrics, sm.GetMetrics()...)
			}
		}
		rc.mu.Unlock()
		resp = &colmetricpb.ExportMetricsServiceResponse{}
	default:
		http.NotFound(w, r)
		return
	}
	rc.mu.Lock()
	rc.requests[r.URL.Path]++
	if gzipped {
		rc.gzipped++
	}
	rc.mu.Unlock()
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// requestsTo returns how many exports reached path.
func (rc *receiver) requestsTo(path string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests[path]
}

// spansOf returns the spans received in the trace traceID (hex).
func (rc *receiver) spansOf(traceID string) []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range rc.spans {
		if hex.EncodeToString(s.GetTraceId()) == traceID {
			out = append(out, s)
		}
	}
	return out
}

// sum returns the last value received of the int sum name at the point
// whose attributes include want (as "key=value" strings).
func (rc *receiver) sum(name string, want ...string) (int64, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var v int64
	found := false
	for _, m := range rc.metrics {
		if m.GetName() != name {
			continue
		}
	points:
		for _, p := range m.GetSum().GetDataPoints() {
			for _, kv := range want {
				k, val, _ := strings.Cut(kv, "=")
				if attrValue(p.GetAttributes(), k) != val {
					continue points
				}
			}
			v, found = p.GetAsInt(), true
		}
	}
	return v, found
}

// attrValue returns the value of key among kvs as a string, "" if absent.
func attrValue(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() != key {
			continue
		}
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return strconv.FormatInt(v.IntValue, 10)
		case *commonpb.AnyValue_BoolValue:
			return strconv.FormatBool(v.BoolValue)
		default:
			return kv.GetValue().String()
		}
	}
	return ""
}

// attrIsInt reports whether key among kvs holds an int.
func attrIsInt(kvs []*commonpb.KeyValue, key string) bool {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			_, ok := kv.GetValue().GetValue().(*commonpb.AnyValue_IntValue)
			return ok
		}
	}
	return false
}
