// Package auth is wsmw's JWT policy for WebSocket endpoints, built on
// golang-jwt/jwt/v5 and, for JWKS, MicahParks/keyfunc/v3.
//
// Put JWT in front of an endpoint and it gives:
//
//   - no upgrade without a valid token: a missing or bad token gets HTTP 401
//     with an RFC 6750 WWW-Authenticate challenge whose error_description
//     names the one reason (see TokenError for the order in which reasons
//     win), or, when configured, an upgrade followed by a Close frame, for
//     browsers that cannot read a 401. exp and sub are required (sub unless
//     WithAnonymous); iss and aud when WithIssuer and WithAudience set them;
//   - a session bound to the token: the connection closes with 1008 "token
//     expired" (cause ErrTokenExpired; middleware.WithClose sets another
//     code) when the token's exp passes;
//   - in-band refresh: Refresh validates a new token for the same subject and
//     moves the end of the session;
//   - revocation that holds, with no option: the token's subject is
//     registered with the Registry, so Registry.Revoke(subject) closes every
//     connection of that subject with 1008 "session revoked", and the
//     subject's tokens issued before the revocation are refused from then
//     on, at the upgrade (401 "token revoked"), at Authenticate and at
//     Refresh, by every endpoint whose connections join that Registry (see
//     Authenticator.Middleware; WithoutRevocationCheck turns it off). An
//     optional periodic revalidation closes with 1008 "session revoked" too;
//   - the claims, from the Conn (ClaimsOf) and from the request or connection
//     context (ClaimsFromContext);
//   - in-band authentication, for clients that cannot set headers: with
//     WithTokenOptional an upgrade without a token gets through, and
//     Authenticator.Authenticate binds the session to a token from the
//     connection's first message, exactly as at the upgrade; a per-subject
//     cap after the policy (ratelimit.MaxConns keyed by subject) counts
//     the connection then, and Authenticate reports its refusal.
//
// Tokens are read from the Authorization header, the Sec-WebSocket-Protocol
// header (as the entry after "bearer"; the token is never echoed back) and
// the access_token query parameter, in that order by default, or from a
// cookie. Each refused upgrade is logged once at Debug level (rate limited
// process-wide) with the reason and the token's source; the package never
// logs a token or a query string.
package auth
