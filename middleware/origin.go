package middleware

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// originChecker decides whether a browser's Origin may open a WebSocket,
// the defence against cross-site WebSocket hijacking.
type originChecker struct {
	patterns []string // lower-cased path.Match patterns over the Origin's host, checked by WithOrigins
}

// allowed reports whether r's Origin passes: no Origin header (a client
// that is not a browser), the same host as the request, or a host that
// matches one of the patterns.
func (oc originChecker) allowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	return matchOrigin(origin, r.Host, oc.patterns)
}

// matchOrigin reports whether the Origin header value origin is allowed for
// a request to host: its host equals host (ignoring case), or matches one of
// the lower-cased path.Match patterns ("*.example.com", "localhost:5173").
// "null" and unparsable origins never match.
func matchOrigin(origin, host string, patterns []string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	originHost := strings.ToLower(u.Host)
	if originHost == strings.ToLower(host) {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, originHost); ok {
			return true
		}
	}
	return false
}
