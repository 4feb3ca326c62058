package main

import "strings"

// allParts lists the capabilities of the example, in the order their
// middleware runs in front of /ws.
func allParts() []part {
	return []part{
		&otelPart{},     // otel.go: OpenTelemetry outermost, so the connection's span sees every refusal
		&observePart{},  // observe.go: metrics outermost, so it sees every rejection
		&limitsPart{},   // limits.go: connect rate and caps, before any costly work
		&authPart{},     // auth.go: JWT, /token, /admin/revoke
		&timeoutsPart{}, // timeouts.go: session expiry, idle, heartbeat
		&pagePart{},     // page.go: the demo page at /
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
