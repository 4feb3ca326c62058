package main

import (
	"flag"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// timeoutsPart is the example's session expiry, idle timeout, heartbeat: -session-expiry, -idle-timeout, -ping-interval, -pong-timeout (issue 4).
// Not wired yet.
type timeoutsPart struct{}

func (p *timeoutsPart) flags(fs *flag.FlagSet) {}

func (p *timeoutsPart) setup(a *app, r chi.Router, ws *[]func(http.Handler) http.Handler) error {
	return nil
}
