// Package bench holds wsmw's side-by-side benchmarks: raw gorilla/websocket,
// a tuned plain-gorilla server (the floor), melody, wsmw with no policies and
// with the full policy stack in both read modes, the example's /ws in event
// mode with its default policies ([ExampleStack]), and the event-loop
// libraries users weigh event mode against, lesismal/nbio and lxzan/gws,
// measured in one `go test -bench` run.
//
// Every benchmark runs the server under test in a child process (the test
// binary re-executed with WSMW_BENCH_SERVER set), so that the server's own
// CPU time, allocations, heap and RSS can be read without the clients'
// share, and so that neither process holds more than its own ends of the
// connections. The benchmark process is the client; it drives the child
// over stdin and stdout (see Child) and reports the child's figures with
// b.ReportMetric. BENCHMARKS.md at the repository root has the commands and
// the latest table.
//
// This package is its own Go module, so that melody, nbio and gws, used
// only for comparison, never enter the library's go.mod. bench/MEMORY.md
// accounts for event mode's bytes per connection.
package bench
