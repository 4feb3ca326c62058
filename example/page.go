package main

import (
	"embed"
	"flag"
	"io/fs"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// static holds the demo page: plain HTML and JavaScript, no build step.
//
//go:embed static
var static embed.FS

// pageCSP confines the demo page to its own origin: scripts and styles
// from this server only, and connections (fetch /token, the WebSocket)
// back to it. CSP Level 3 lets 'self' cover ws:// and wss:// on the same
// host.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// pagePart serves the demo page at GET / and its script and style beside
// it (issue 6). The page gets a demo token from GET /token, connects to /ws
// and logs every event, so a person (or the conformance suite's headless
// Chromium) can watch each close code arrive.
type pagePart struct{}

func (p *pagePart) flags(fs *flag.FlagSet) {}

func (p *pagePart) setup(a *app, r chi.Router, ws *[]func(http.Handler) http.Handler) error {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return err
	}
	files := http.FileServerFS(sub)
	serve := func(w http.ResponseWriter, req *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, req)
	}
	r.Get("/", serve)
	r.Get("/app.js", serve)
	r.Get("/style.css", serve)
	r.Get("/favicon.svg", serve)
	r.Get("/favicon.ico", func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, "/favicon.svg", http.StatusMovedPermanently)
	})
	return nil
}
