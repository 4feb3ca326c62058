package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// An upgrade that the limits let through carries their X-RateLimit-*
// fields to whatever answers it with HTTP further down the chain (here a
// 401), the last policy's fields winning; an upgrade that succeeds writes
// none (gorilla's 101 would not carry them).
func TestLimitFieldsGoOutWithALaterRefusal(t *testing.T) {
	refused := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	})
	w := httptest.NewRecorder()
	ConnectRate(10, time.Minute)(MaxConns(5)(refused)).ServeHTTP(w, upgradeRequest())
	h := w.Result().Header
	if w.Code != http.StatusUnauthorized || h.Get("X-RateLimit-Limit") != "5" || h.Get("X-RateLimit-Remaining") != "4" {
		t.Fatalf("%d %v", w.Code, h)
	}
	if reset, _ := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64); reset < time.Now().Add(-time.Minute).Unix() {
		t.Fatalf("X-RateLimit-Reset %q", h.Get("X-RateLimit-Reset"))
	}

	w = httptest.NewRecorder()
	var passed http.ResponseWriter
	ConnectRate(10, time.Minute)(MaxConns(5)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { passed = w }))).ServeHTTP(w, upgradeRequest())
	if len(w.Header()) != 0 {
		t.Fatalf("fields written without a response: %v", w.Header())
	}
	if _, ok := passed.(http.Hijacker); !ok {
		t.Fatal("the writer passed on cannot hijack: no upgrade could happen")
	}
}
