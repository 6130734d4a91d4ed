package plan

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/qrun-dev/qrun/vocab"
)

// TestT22SweepRefusedBeforeExpansion: the size of a sweep is the product of
// its lists' lengths, saturating instead of wrapping, and a plan larger
// than its limit is an invalid selection before a single run is generated
// (no registry is needed to refuse it).
func TestT22SweepRefusedBeforeExpansion(t *testing.T) {
	axis := func(key string, n int) Axis {
		a := Axis{Key: key, Values: make([]any, n)}
		for i := range a.Values {
			a.Values[i] = int64(i)
		}
		return a
	}
	sel := Selection{Models: []string{"Qwen/Qwen3-8B"}, Formats: []string{"int8"}, Granularities: []string{"w_group64"},
		Params: []Axis{axis("a", 100000), axis("b", 100000), axis("c", 100000)}}
	if got := sel.Size(); got != 1e15 {
		t.Fatalf("Size = %d, want 1e15", got)
	}
	_, err := Plan(context.Background(), Options{}, sel)
	var big *SweepTooLargeError
	if !errors.As(err, &big) || !errors.Is(err, vocab.ErrInvalidSelection) || big.Limit != DefaultMaxSweep || big.Size != 1e15 {
		t.Fatalf("Plan = %v, want a SweepTooLargeError of 1e15 runs over %d", err, DefaultMaxSweep)
	}
	sel.Params = append(sel.Params, axis("d", 100000))
	if got := sel.Size(); got != math.MaxUint64 {
		t.Errorf("Size of 1e20 runs = %d, want saturation at MaxUint64", got)
	}
	// ParseSelection counts the ranges before it expands any.
	_, err = ParseSelection(Flags{Models: []string{"m/x"}}, []string{"quant_pair=int8,fp8", "a=range(0,1000000)", "b=range(0,1000000)", "c=range(0,1000000)"}, groups, nil)
	if !errors.As(err, &big) || big.Size != 2e18 || len(big.Factors) != 7 || big.Factors[1].N != 2 || big.Factors[6] != (Factor{"c", 1000000}) {
		t.Fatalf("ParseSelection = %v (%+v), want a SweepTooLargeError of 2e18 runs", err, big)
	}
	if _, err := ParseSelection(Flags{Models: []string{"m/x"}, MaxSweep: 6}, []string{"quant_pair=int8,fp8", "seed=range(0,3)"}, groups, nil); err != nil {
		t.Errorf("6 runs under a limit of 6: %v", err)
	}
	if _, err := ParseSelection(Flags{Models: []string{"m/x"}, MaxSweep: 5}, []string{"quant_pair=int8,fp8", "seed=range(0,3)"}, groups, nil); !errors.As(err, &big) || big.Size != 6 {
		t.Errorf("6 runs under a limit of 5: %v", err)
	}
	small := Selection{Models: []string{"m/x"}, Formats: []string{"int8", "fp8"}, Granularities: []string{"default"}}
	if err := small.CheckSize(2); err != nil {
		t.Errorf("2 runs under a limit of 2: %v", err)
	}
	if err := small.CheckSize(1); err == nil {
		t.Errorf("2 runs under a limit of 1: no error")
	}
}
