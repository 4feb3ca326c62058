package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw"
	"github.com/wsmw/wsmw/auth"
)

// demoSecret signs demo tokens unless -secret is given. Anyone who reads
// this file can mint tokens with it: never use it outside a demo.
const demoSecret = "wsmw-demo-secret-do-not-use-in-production"

// Demo token limits.
const (
	demoIssuer     = "wsmw-example"
	bannerTokenTTL = time.Hour
	defaultTTL     = 10 * time.Minute
	maxTTL         = 24 * time.Hour
	maxSubjectLen  = 64
)

// authPart is the example's JWT auth: -secret, GET /token, POST
// /admin/revoke and the {"type":"refresh","token":"…"} command on /ws.
type authPart struct {
	secret string
	a      *auth.Authenticator
}

func (p *authPart) flags(fs *flag.FlagSet) {
	fs.StringVar(&p.secret, "secret", demoSecret, "HS256 key for demo tokens (the default is a fixed, public demo secret)")
}

func (p *authPart) setup(a *app, r chi.Router, ws *[]func(http.Handler) http.Handler) error {
	if p.secret == demoSecret {
		a.log.Warn("using the fixed demo secret: anyone can mint tokens; pass -secret for anything but a demo")
	} else if len(p.secret) < 32 {
		a.log.Warn("the -secret is shorter than 32 bytes; HS256 wants at least 32 random bytes")
	}
	var err error
	// Revocations hold with no option: after POST /admin/revoke, the
	// subject's tokens issued before it get 401 "token revoked" (on every
	// server sharing -redis, whose revocations reach a.reg).
	p.a, err = auth.New(wsmw.HMAC([]byte(p.secret)), wsmw.WithIssuer(demoIssuer), wsmw.WithLogger(a.log))
	if err != nil {
		return err
	}
	// The per-subject cap (with -redis -max-conns-per-subject) needs the
	// subject, so it comes right after the JWT policy.
	*ws = append(append(*ws, p.a.Middleware), a.subjectPolicies()...)
	r.Get("/token", p.token)
	r.Post("/admin/revoke", func(w http.ResponseWriter, req *http.Request) { p.revoke(a, w, req) })
	return nil
}

// mint signs a demo token for sub that expires after ttl.
func (p *authPart) mint(sub string, ttl time.Duration) (string, error) {
	now := time.Now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer:    demoIssuer,
		Subject:   sub,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}).SignedString([]byte(p.secret))
}

// token answers GET /token?sub=NAME&ttl=DURATION with a demo token:
// {"token":"…","token_type":"Bearer","expires_in":600,"note":"demo only…"}.
func (p *authPart) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sub := q.Get("sub")
	if sub == "" {
		sub = "demo"
	}
	if len(sub) > maxSubjectLen {
		http.Error(w, "sub: at most "+strconv.Itoa(maxSubjectLen)+" bytes", http.StatusBadRequest)
		return
	}
	ttl := defaultTTL
	if s := q.Get("ttl"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second || d > maxTTL {
			http.Error(w, "ttl: a duration from 1s to 24h, such as 30s or 10m", http.StatusBadRequest)
			return
		}
		ttl = d
	}
	tok, err := p.mint(sub, ttl)
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(struct {
		Token     string `json:"token"`
		TokenType string `json:"token_type"`
		ExpiresIn int64  `json:"expires_in"`
		Subject   string `json:"sub"`
		Note      string `json:"note"`
	}{tok, "Bearer", int64(ttl / time.Second), sub, "demo only: this endpoint hands a token to anyone"})
}

// revoke answers POST /admin/revoke?sub=NAME: every connection of sub
// closes with 1008 "session revoked", on every server sharing -redis. It
// is an admin action with no credentials of its own, so it is refused with
// 403 and a plain-text reason (see adminRefusal) unless it comes from this
// host, by curl or a page of this very server.
func (p *authPart) revoke(a *app, w http.ResponseWriter, r *http.Request) {
	if why := adminRefusal(r); why != "" {
		http.Error(w, "forbidden: "+why, http.StatusForbidden)
		return
	}
	sub := r.URL.Query().Get("sub")
	if sub == "" {
		http.Error(w, "sub is required", http.StatusBadRequest)
		return
	}
	n := a.revokeSubject(r.Context(), sub)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"revoked\":%d}\n", n)
}

// adminRefusal says why an admin request is refused, "" when it may go on.
// Only the loopback interface may call it; and since any web page open in
// a browser on this host could also reach the loopback, a request that a
// browser marks as sent by another site is refused too:
//   - the client is not on a loopback address;
//   - the Host is not a loopback name (localhost, 127.0.0.1, [::1]): a
//     DNS-rebinding page reaches 127.0.0.1 under its own name, with an
//     Origin that then matches its Host;
//   - an Origin header whose host is not the request's Host (Origin "null"
//     included): the request comes from another site's page;
//   - a Sec-Fetch-Site header other than "same-origin" or "none" (typed
//     in, a bookmark): "same-site" and "cross-site" are other origins.
//
// A request without Origin or Sec-Fetch-Site (curl, a script) is not a
// browser's cross-site request, and passes.
func adminRefusal(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return "admin endpoints answer loopback clients only"
	}
	if !loopbackHost(r.Host) {
		return "admin endpoints answer only under a loopback Host (localhost, 127.0.0.1, [::1])"
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) {
			return "cross-origin request: the Origin is not this server"
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return "cross-origin request: Sec-Fetch-Site is not same-origin"
	}
	return ""
}

// loopbackHost reports whether host (a Host header, with or without a
// port) names the loopback interface.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// command handles {"type":"refresh","token":"…"}: {"type":"refreshed"}, or
// {"type":"error","error":"…"} with the connection left open.
func (p *authPart) command(c *wsmw.Conn, msg []byte) ([]byte, bool) {
	var cmd struct {
		Type  string `json:"type"`
		Token string `json:"token"`
	}
	if json.Unmarshal(msg, &cmd) != nil || cmd.Type != "refresh" {
		return nil, false
	}
	err := wsmw.Refresh(c, cmd.Token)
	if err != nil {
		reason := "invalid token"
		var te *auth.TokenError
		switch {
		case errors.As(err, &te):
			reason = "invalid token: " + te.Description
		case errors.Is(err, auth.ErrSubjectMismatch):
			reason = "the token is for another subject"
		}
		c.Logger().Info("token refresh refused", "subject", c.Subject(), "reason", reason)
		reply, _ := json.Marshal(map[string]string{"type": "error", "error": reason})
		return reply, true
	}
	exp, _ := auth.ExpiresAt(c)
	c.Logger().Info("token refreshed", "subject", c.Subject(), "expires", exp.UTC().Format(time.RFC3339))
	return []byte(`{"type":"refreshed"}`), true
}

// banner prints a demo token, so `websocat -H "Authorization: Bearer …"`
// works at once.
func (p *authPart) banner(w io.Writer, addr string) {
	tok, err := p.mint("demo", bannerTokenTTL)
	if err != nil {
		return
	}
	fmt.Fprintf(w, "Demo token (sub=demo, valid 1h; demo only): %s\n", tok)
	fmt.Fprintf(w, "More tokens: http://%s/token?sub=NAME&ttl=10m  Revoke: curl -X POST 'http://%s/admin/revoke?sub=NAME'\n", addr, addr)
}
