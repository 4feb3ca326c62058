package main

import "strings"

// allParts lists the capabilities of the example, in the order their
// middleware runs in front of /ws.
func allParts() []part {
	return []part{
		&limitsPart{},   // limits.go: connect rate and caps first, before any work
		&authPart{},     // auth.go: JWT, /token, /admin/revoke
		&timeoutsPart{}, // timeouts.go: session expiry, idle, heartbeat
		&observePart{},  // observe.go: metrics
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
