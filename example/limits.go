package main

import (
	"flag"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// limitsPart is the example's connect rate, connection caps, message rate and size: -connect-rate, -max-conns-per-ip, -msg-rate, -msg-burst, -max-message-size, -redis (issue 5).
// Not wired yet.
type limitsPart struct{}

func (p *limitsPart) flags(fs *flag.FlagSet) {}

func (p *limitsPart) setup(a *app, r chi.Router, ws *[]func(http.Handler) http.Handler) error {
	return nil
}
