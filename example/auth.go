package main

import (
	"flag"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// authPart is the example's JWT auth: -secret, GET /token, POST /admin/revoke, the refresh command (issue 3).
// Not wired yet.
type authPart struct{}

func (p *authPart) flags(fs *flag.FlagSet) {}

func (p *authPart) setup(a *app, r chi.Router, ws *[]func(http.Handler) http.Handler) error {
	return nil
}
