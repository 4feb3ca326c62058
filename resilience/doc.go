// Package resilience holds wsmw's reliability and security proofs; it has
// no API, only tests:
//
//   - a bounded chaos run over more than 10,000 connections in waves, each
//     with a random fate (clean close, reset, silent or half-open peer,
//     slow consumer, oversized message, flood, token expiry, revocation,
//     racing server closes, handler return, server shutdown), checking that
//     every connection ends exactly once with the expected initiator, code
//     and cause, and that no goroutine, limiter slot or heap leaks;
//   - abuse tests against the example server's settings: a slowloris
//     handshake, oversized headers, bad Sec-WebSocket-Key and version,
//     10,000 rapid connect/close cycles from one IP, cross-site WebSocket
//     hijacking with cookie auth, and invalid UTF-8 under ValidUTF8.
//
// The fuzz targets live next to the code they fuzz (lifecycle, middleware,
// auth); SECURITY.md at the repository root explains how to run them
// longer.
package resilience
