package auth

import (
	"net/http"
	"strings"

	"github.com/gorilla/websocket"
)

// bearerSubprotocol is the Sec-WebSocket-Protocol entry that announces a
// token: the client offers "bearer" and, as the next entry, the token. The
// server selects "bearer" (or one of the application's subprotocols), never
// the token.
const bearerSubprotocol = "bearer"

// Source is one place a token may be carried. Make one with [FromHeader],
// [FromSubprotocol], [FromQuery] or [FromCookie].
type Source struct {
	name    string // for logs: "header", "subprotocol", "query" or "cookie"
	extract func(r *http.Request) (token string, found bool)
}

// DefaultSources are the Authorization header, then Sec-WebSocket-Protocol,
// then the access_token query parameter (RFC 6750's name): where
// [WithSources] does not say otherwise. Add a cookie with
// [WithSources](append([DefaultSources](), [FromCookie](name))...).
func DefaultSources() []Source {
	return []Source{FromHeader(), FromSubprotocol(), FromQuery("access_token")}
}

// FromHeader reads "Authorization: Bearer <token>" (the scheme is matched
// without regard to case). Other schemes are not a token.
func FromHeader() Source {
	return Source{name: "header", extract: func(r *http.Request) (string, bool) {
		return bearerFromHeader(r.Header.Get("Authorization"))
	}}
}

func bearerFromHeader(v string) (string, bool) {
	const scheme = "bearer"
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	rest := v[len(scheme):]
	if rest == "" {
		return "", true // the scheme without a token: a malformed token
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", false // another scheme that starts with "bearer"
	}
	return strings.Trim(rest, " \t"), true
}

// FromSubprotocol reads the token from Sec-WebSocket-Protocol, where
// browsers can put it: the entry that follows "bearer".
func FromSubprotocol() Source {
	return Source{name: "subprotocol", extract: func(r *http.Request) (string, bool) {
		return bearerFromSubprotocols(websocket.Subprotocols(r))
	}}
}

func bearerFromSubprotocols(protos []string) (string, bool) {
	for i, p := range protos {
		if p == bearerSubprotocol {
			if i+1 < len(protos) {
				return protos[i+1], true
			}
			return "", true
		}
	}
	return "", false
}

// offersBearer reports whether the client offered the "bearer"
// subprotocol.
func offersBearer(r *http.Request) bool {
	for _, p := range websocket.Subprotocols(r) {
		if p == bearerSubprotocol {
			return true
		}
	}
	return false
}

// FromQuery reads the token from the query parameter name, which RFC 6750
// §2.3 calls "access_token" (see [DefaultSources]). Query strings end up in
// access logs and browser history: prefer the header or the subprotocol,
// and keep query strings out of logs. An empty name panics.
func FromQuery(name string) Source {
	if name == "" {
		panic("wsmw: FromQuery(\"\"): a query parameter needs a name")
	}
	return Source{name: "query", extract: func(r *http.Request) (string, bool) {
		if r.URL == nil || r.URL.RawQuery == "" {
			return "", false
		}
		q := r.URL.Query()
		if _, ok := q[name]; !ok {
			return "", false
		}
		return q.Get(name), true
	}}
}

// FromCookie reads the token from the cookie name. Cookies are sent by the
// browser on its own: keep the Origin check on (it is by default).
func FromCookie(name string) Source {
	return Source{name: "cookie", extract: func(r *http.Request) (string, bool) {
		ck, err := r.Cookie(name)
		if err != nil {
			return "", false
		}
		return ck.Value, true
	}}
}

// extract returns the token of the first source in sources that carries
// one, and that source's name. found is false when none does. A found but
// empty token is returned as found, so that it can be refused as malformed.
func extract(r *http.Request, sources []Source) (token, source string, found bool) {
	for _, s := range sources {
		if s.extract == nil {
			continue
		}
		if t, ok := s.extract(r); ok {
			return t, s.name, true
		}
	}
	return "", "", false
}
