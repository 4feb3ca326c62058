package conformance

import (
	"encoding/json"
	"fmt"
)

// Example_closedLine shows how the suite reads the example's one
// "ws closed" line per connection from its JSON logs.
func Example_closedLine() {
	raw := `{"time":"2026-01-02T03:04:05Z","level":"INFO","msg":"ws closed","code":1008,` +
		`"reason":"session expired","initiator":"local","cause":"session expired",` +
		`"duration":"3.001s","subject":"alice"}`
	l := logLine{raw: raw}
	if err := json.Unmarshal([]byte(raw), &l.rec); err != nil {
		panic(err)
	}
	c := parseClosed(l)
	fmt.Println(c.Code, c.Reason, c.Initiator, c.Subject, c.Duration)
	// Output: 1008 session expired local alice 3.001s
}
