package main

import (
	"flag"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// observePart is the example's Prometheus metrics at GET /metrics (issue 9).
// Not wired yet.
type observePart struct{}

func (p *observePart) flags(fs *flag.FlagSet) {}

func (p *observePart) setup(a *app, r chi.Router, ws *[]func(http.Handler) http.Handler) error {
	return nil
}
