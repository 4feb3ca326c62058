package ratelimit

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"

	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/wsmw/wsmw/internal/policy"
)

// KeyFunc names the bucket or the slots a request counts against. An empty
// key exempts the request from the policy. An error refuses the request
// with 403 (the policy cannot count it), logged as a Warn the first time:
// [KeyBySubject]'s [ErrNoSubject] says the policy was put before the auth
// policy, or that the token had no subject. One exception: [MaxConns]
// counts a request whose key function returns [ErrNoSubject] while its
// subject is still to come (the auth policy let it through without a token,
// behind auth.WithTokenOptional) when the subject is set, under
// [KeyBySubject]'s key for it.
type KeyFunc func(r *http.Request) (string, error)

// clientIP returns the client's IP: the one that chi's ClientIPFromXFF,
// ClientIPFromHeader, ClientIPFromXFFTrustedProxies or ClientIPFromRemoteAddr
// middleware stored in r's context, else the TCP peer in r.RemoteAddr. It
// reads no header itself: behind a proxy, put one of chi's middleware,
// configured with the proxy's addresses, in front of the policies. The
// result is invalid only when RemoteAddr does not parse.
func clientIP(r *http.Request) netip.Addr {
	if ip := chimw.GetClientIPAddr(r.Context()); ip.IsValid() {
		return ip.Unmap()
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

// ipv6KeyBits is how many leading bits of an IPv6 client address [KeyByIP]
// keeps: a /64, the smallest network an IPv6 customer is usually given.
const ipv6KeyBits = 64

// KeyByIP keys a request by its client (the IP that chi's ClientIPFromXFF,
// ClientIPFromHeader or ClientIPFromXFFTrustedProxies middleware stored in
// the request's context, else the TCP peer's: no header is read here): an
// IPv4 client by its address ("192.0.2.7"), an IPv6 client by its /64
// network ("2001:db8:1:2::/64"). Whoever holds one IPv6 address nearly
// always holds the whole /64 around it (a home line, a cloud VM, a phone):
// keyed by the full address, every one of its 2^64 addresses would bring a
// fresh budget. It is the default key of [ConnectRate] and [MaxConns]. To
// key each IPv6 address apart, use [KeyByIPPrefix](32, 128); to group
// larger networks, [KeyByIPPrefix](24, 56) for example (but clients behind
// one carrier-grade NAT share an IPv4 address already).
func KeyByIP(r *http.Request) (string, error) { return keyByIP(r), nil }

func keyByIP(r *http.Request) string {
	ip := clientIP(r)
	switch {
	case !ip.IsValid():
		return r.RemoteAddr
	case ip.Is4():
		return ip.String()
	}
	p, _ := ip.WithZone("").Prefix(ipv6KeyBits)
	return p.String()
}

// KeyByIPPrefix keys a request by the network of its client IP: the first
// v4Bits of an IPv4 address, the first v6Bits of an IPv6 one (64 groups a
// typical IPv6 customer, who controls a whole /64), as a prefix such as
// "192.0.2.0/24". [KeyByIPPrefix](32, 64) counts like [KeyByIP], with IPv4
// keys written "192.0.2.7/32". Bits outside 0-32 and 0-128 panic.
func KeyByIPPrefix(v4Bits, v6Bits int) KeyFunc {
	if v4Bits < 0 || v4Bits > 32 || v6Bits < 0 || v6Bits > 128 {
		panic(fmt.Sprintf("wsmw: KeyByIPPrefix(%d, %d): bits must be 0-32 and 0-128", v4Bits, v6Bits))
	}
	return func(r *http.Request) (string, error) {
		ip := clientIP(r)
		if !ip.IsValid() {
			return r.RemoteAddr, nil
		}
		bits := v6Bits
		if ip.Is4() {
			bits = v4Bits
		}
		p, _ := ip.WithZone("").Prefix(bits)
		return p.String(), nil
	}
}

// KeyBySubject keys a request by its authenticated subject (set by the auth
// policy in front, auth.JWT), as "sub:" followed by the
// subject. A request without one is refused ([ErrNoSubject], 403): silently
// counting it by IP instead would turn a per-user cap into a per-IP one
// behind every NAT. Put the policy after the auth policy. A request whose
// subject comes in band, after the upgrade (auth.WithTokenOptional without
// a token), is refused by [ConnectRate] but counted by [MaxConns] when its
// subject is set (see [MaxConns]).
func KeyBySubject(r *http.Request) (string, error) {
	if s := policy.SubjectFromContext(r.Context()); s != "" {
		return "sub:" + s, nil
	}
	return "", ErrNoSubject
}
