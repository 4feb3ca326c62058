package gqlws

import (
	"context"
	"errors"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/lifecycle"
	"github.com/wsmw/wsmw/ratelimit"
)

// InitFunc returns gqlgen's InitFunc for the adapter: with
// [WithAuthenticator] it authenticates the connection from connection_init's
// payload first, and refuses it with 4403 "Forbidden: <why>" (cause
// [ErrInitRefused] wrapping the auth error) when the token is missing or bad,
// or with 1013 "too many connections" when a per-subject cap in front
// ([ratelimit.MaxConns] keyed by subject) is full for the token's subject;
// then it calls next (nil for none) with a context that carries the
// connection ([ConnFromContext]) and its claims ([auth.ClaimsFromContext]).
//
// An error from next closes the connection with the code next chose with
// [transport.WithWebsocketCloseCode], or with 4403 "Forbidden" when it chose
// none (gqlgen's own default, 1000 "terminated", is taken for "none":
// graphql-ws would silently retry it). The cause is [ErrInitRefused] wrapping
// next's error. A nil context from next is replaced by the one it got, as
// gqlgen would panic on it.
//
// [Adapter.Websocket] installs it; call it yourself only to build the
// transport.Websocket by hand.
func (a *Adapter) InitFunc(next transport.WebsocketInitFunc) transport.WebsocketInitFunc {
	return func(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		wc, _ := ctx.Value(connKey{}).(*conn)
		if wc == nil {
			return ctx, nil, ErrNotWrapped
		}
		if a.auth != nil {
			if err := wc.authenticate(payload); err != nil {
				wc.refused(err)
				code, reason := initRefusal(err)
				ctx = transport.WithWebsocketCloseCode(ctx, int(code))
				return transport.AppendCloseReason(ctx, reason), nil, err
			}
		}
		ctx = auth.NewContext(ctx, wc.c)
		if next == nil {
			return ctx, nil, nil
		}
		out, ack, err := next(ctx, payload)
		if out == nil {
			out = ctx
		}
		if err != nil {
			wc.refused(err)
		}
		return out, ack, err
	}
}

// authenticate runs the in-band authentication on connection_init's
// payload.
func (wc *conn) authenticate(payload transport.InitPayload) error {
	token, found := wc.a.token(payload)
	if !found {
		if auth.ClaimsOf(wc.c) != nil {
			return nil // authenticated at the upgrade
		}
		return auth.ErrTokenMissing
	}
	return wc.a.auth.Authenticate(wc.c, token)
}

// PayloadToken is the default way to find the token in connection_init's
// payload: the "token" entry ({"token": "<jwt>"}), else an "Authorization"
// or "authorization" entry "Bearer <jwt>" (as Apollo clients send it). An
// entry that is present but not a string is found, and refused as a
// malformed token.
func PayloadToken(p transport.InitPayload) (string, bool) {
	if v, ok := p["token"]; ok {
		s, _ := v.(string)
		return s, true
	}
	if v := p.Authorization(); v != "" {
		const scheme = "bearer "
		if len(v) >= len(scheme) && strings.EqualFold(v[:len(scheme)], scheme) {
			return strings.TrimSpace(v[len(scheme):]), true
		}
		return "", true
	}
	return "", false
}

// initRefusal returns the close of a connection_init whose in-band
// authentication failed: 1013 when a per-subject cap refused the subject (or
// could not count it, its Store failing closed), which graphql-ws retries
// with backoff; 4403 otherwise.
func initRefusal(err error) (lifecycle.StatusCode, string) {
	switch {
	case errors.Is(err, ratelimit.ErrTooManyConnections):
		return StatusTryAgainLater, "too many connections"
	case errors.Is(err, ratelimit.ErrStoreUnavailable):
		return StatusTryAgainLater, "connection limit unavailable"
	}
	reason := "Forbidden"
	if d := describe(err); d != "" {
		reason += ": " + d
	}
	return StatusForbidden, reason
}
