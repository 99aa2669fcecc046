package harness

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		d := make([]time.Duration, len(xs))
		for i, x := range xs {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // unsorted on purpose
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", ms(7), Summary{N: 1, P50: ms(7)[0], P90: ms(7)[0], P99: ms(7)[0], Max: ms(7)[0]}},
		{"two", ms(9, 1), Summary{N: 2, P50: ms(1)[0], P90: ms(9)[0], P99: ms(9)[0], Max: ms(9)[0]}},
		{"1..100", ms(hundred...), Summary{N: 100, P50: ms(50)[0], P90: ms(90)[0], P99: ms(99)[0], Max: ms(100)[0]}},
	} {
		if got := Summarize(tc.in); got != tc.want {
			t.Errorf("%s: Summarize = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2},
	} {
		in := append([]float64(nil), tc.in...)
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
		for i := range in {
			if in[i] != tc.in[i] {
				t.Errorf("Median reordered its argument: %v", tc.in)
			}
		}
	}
}
