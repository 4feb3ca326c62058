package main

import (
	"flag"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// pagePart serves the demo page at GET / (issue 6).
// Not wired yet.
type pagePart struct{}

func (p *pagePart) flags(fs *flag.FlagSet) {}

func (p *pagePart) setup(a *app, r chi.Router, ws *[]func(http.Handler) http.Handler) error {
	return nil
}
