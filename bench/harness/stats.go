package harness

import (
	"fmt"
	"slices"
	"time"
)

// Summary describes a set of latencies by nearest-rank percentiles.
type Summary struct {
	N             int
	P50, P90, P99 time.Duration
	Max           time.Duration
}

// Summarize computes a Summary; it sorts d in place.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	slices.Sort(d)
	return Summary{N: len(d), P50: rank(d, 50), P90: rank(d, 90), P99: rank(d, 99), Max: d[len(d)-1]}
}

// rank is the nearest-rank percentile p of sorted d: the smallest value that at least p% of the
// values do not exceed.
func rank(d []time.Duration, p int) time.Duration {
	i := (p*len(d)+99)/100 - 1
	return d[max(i, 0)]
}

func (s Summary) String() string {
	if s.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s  (n=%d)", Ms(s.P50), Ms(s.P90), Ms(s.P99), Ms(s.Max), s.N)
}

// Ms formats d in milliseconds with two decimals.
func Ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// Median returns the median of xs (the lower middle for an even count), or 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
