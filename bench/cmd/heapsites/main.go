// Command heapsites prints a heap profile's samples grouped by allocation
// site (the first frame outside the runtime, and with -d its callers),
// divided by a connection count: what bench/MEMORY.md's per-site tables
// show. It reads the profiles the bench children write with
// -wsmw.profile (PREFIX.heap.pprof after GC, PREFIX.allocs.pprof for the
// child's whole life).
//
//	go run ./cmd/heapsites -n 5000 /tmp/prof/BenchmarkIdle_conns-5000_impl-wsmw-events.heap.pprof
//	go run ./cmd/heapsites -n 5000 -i alloc -d 2 /tmp/prof/BenchmarkIdle_conns-5000_impl-wsmw-events.allocs.pprof
package main

import (
	"flag"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
)

func main() {
	n := flag.Float64("n", 1, "divide by this many connections")
	index := flag.String("i", "inuse", "samples: inuse (live at the last GC) or alloc (every allocation)")
	min := flag.Float64("min", 1, "hide sites below this many bytes per connection")
	depth := flag.Int("d", 1, "frames to show: the site, then its callers")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: heapsites [-n conns] [-i inuse|alloc] [-min B] [-d frames] profile")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *index, *n, *min, *depth); err != nil {
		fmt.Fprintln(os.Stderr, "heapsites:", err)
		os.Exit(1)
	}
}

// site is one allocation site's share of the samples.
type site struct {
	key            string
	objects, bytes int64
}

func run(file, index string, n, min float64, depth int) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return err
	}
	oi, bi := -1, -1
	for i, st := range p.SampleType {
		switch st.Type {
		case index + "_objects":
			oi = i
		case index + "_space":
			bi = i
		}
	}
	if oi < 0 || bi < 0 {
		return fmt.Errorf("%s: no %s_objects and %s_space samples", file, index, index)
	}
	sites := map[string]*site{}
	var total site
	for _, s := range p.Sample {
		key := siteOf(s, depth)
		st := sites[key]
		if st == nil {
			st = &site{key: key}
			sites[key] = st
		}
		st.objects += s.Value[oi]
		st.bytes += s.Value[bi]
		total.objects += s.Value[oi]
		total.bytes += s.Value[bi]
	}
	list := make([]*site, 0, len(sites))
	for _, st := range sites {
		list = append(list, st)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].bytes > list[j].bytes })
	for _, st := range list {
		if float64(st.bytes)/n < min {
			continue
		}
		each := int64(0)
		if st.objects > 0 {
			each = st.bytes / st.objects
		}
		fmt.Printf("%8.1f B/conn %6.2f obj/conn %6d B each  %s\n", float64(st.bytes)/n, float64(st.objects)/n, each, st.key)
	}
	fmt.Printf("total %.1f B/conn, %.2f objects/conn\n", float64(total.bytes)/n, float64(total.objects)/n)
	return nil
}

// siteOf names a sample by its first depth frames outside the runtime's
// allocator (runtime/pprof's own allocations count as a site).
func siteOf(s *profile.Sample, depth int) string {
	var frames []string
	for _, loc := range s.Location {
		for i := len(loc.Line) - 1; i >= 0 && len(frames) < depth; i-- {
			ln := loc.Line[i]
			name := ln.Function.Name
			if len(frames) == 0 && strings.HasPrefix(name, "runtime.") {
				continue
			}
			frames = append(frames, fmt.Sprintf("%s (%s:%d)", name, path.Base(ln.Function.Filename), ln.Line))
		}
	}
	return strings.Join(frames, " <- ")
}
