package ratelimit

import (
	"net"
	"net/http"
	"net/netip"

	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/wsmw/wsmw/middleware"
)

// KeyFunc names the bucket or the slots a request counts against. An empty
// key exempts the request from the policy.
type KeyFunc func(r *http.Request) string

// ClientIP returns the client's IP: the one that chi's ClientIPFromXFF,
// ClientIPFromHeader, ClientIPFromXFFTrustedProxies or ClientIPFromRemoteAddr
// middleware stored in r's context, else the TCP peer in r.RemoteAddr. It
// reads no header itself: behind a proxy, put one of chi's middleware,
// configured with the proxy's addresses, in front of the policies. The
// result is invalid only when RemoteAddr does not parse.
func ClientIP(r *http.Request) netip.Addr {
	if ip := chimw.GetClientIPAddr(r.Context()); ip.IsValid() {
		return ip
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, _ := netip.ParseAddr(host)
	return ip.Unmap()
}

// KeyByIP keys a request by its client IP (see ClientIP). It is the default
// key of ConnectRate and MaxConns.
func KeyByIP(r *http.Request) string {
	if ip := ClientIP(r); ip.IsValid() {
		return ip.String()
	}
	return r.RemoteAddr
}

// KeyByIPPrefix keys a request by the network of its client IP: the first
// v4Bits of an IPv4 address, the first v6Bits of an IPv6 one (64 groups a
// typical IPv6 customer, who controls a whole /64).
func KeyByIPPrefix(v4Bits, v6Bits int) KeyFunc {
	return func(r *http.Request) string {
		ip := ClientIP(r)
		if !ip.IsValid() {
			return r.RemoteAddr
		}
		bits := v6Bits
		if ip.Is4() {
			bits = v4Bits
		}
		p, err := ip.WithZone("").Prefix(bits)
		if err != nil {
			return ip.String()
		}
		return p.String()
	}
}

// KeyBySubject keys a request by its authenticated subject (set by an auth
// policy in front with middleware.WithSubject), as "sub:" followed by the
// subject, and falls back to the client IP for a request without one.
func KeyBySubject(r *http.Request) string {
	if s := middleware.Subject(r); s != "" {
		return "sub:" + s
	}
	return KeyByIP(r)
}
