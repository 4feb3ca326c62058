// Package conformance holds wsmw's real-client conformance suite. Its tests
// build the example server (../example), start it as a process with short
// timings, and drive it with clients no one here wrote: Python websockets
// (Debian's python3-websockets), Node's ws, and Debian's headless Chromium
// driven by playwright-core on the example's own demo page. Every scenario
// checks what the client saw (close code, reason, whether the close
// handshake completed) and the server's one "ws closed" log line for that
// connection (code, initiator, cause).
//
// A missing client skips its tests, or fails them when
// WSMW_REQUIRE_INTEGRATION=1 (as .ci/run sets). The Node clients need
// `npm ci --prefix conformance/node`; the tests never install anything.
//
// Screenshots and the example's logs are written to testdata/artifacts/
// (git-ignored), or to $WSMW_ARTIFACTS when set.
package conformance
