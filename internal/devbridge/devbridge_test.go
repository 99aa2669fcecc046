package devbridge

import (
	"reflect"
	"testing"
)

func TestSet(t *testing.T) {
	cfg := map[string]any{"a": map[string]any{"keep": 1}, "b": "scalar"}
	Set(cfg, 2, "a", "new")
	Set(cfg, 3, "b", "c", "d")
	Set(cfg, 4, "top")
	want := map[string]any{
		"a":   map[string]any{"keep": 1, "new": 2},
		"b":   map[string]any{"c": map[string]any{"d": 3}},
		"top": 4,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Set gave %v, want %v", cfg, want)
	}
}
