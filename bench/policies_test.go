package bench_test

import (
	"fmt"
	"testing"

	"github.com/wsmw/wsmw/bench"
)

// BenchmarkIdlePolicies measures BenchmarkIdle's figures for the example's
// /ws in events mode with its policies added one at a time, in the
// example's order (bench.ExamplePolicies): sub-benchmark policies=K-NAME
// runs the first K, NAME the last one added (policies=00-none is the bare
// EventHandler behind the example's router and logger). The difference
// between K and K-1 is what policy K keeps per idle connection.
func BenchmarkIdlePolicies(b *testing.B) {
	for _, n := range connCounts(b) {
		for k := 0; k <= len(bench.ExamplePolicies); k++ {
			last := "none"
			if k > 0 {
				last = bench.ExamplePolicies[k-1]
			}
			name := fmt.Sprintf("%s@%d", bench.WSMWExampleEvents, k)
			b.Run(fmt.Sprintf("conns=%d/policies=%02d-%s", n, k, last), func(b *testing.B) {
				for range b.N {
					benchIdle(b, name, n)
				}
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
