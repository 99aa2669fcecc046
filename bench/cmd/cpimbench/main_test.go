package main

import "testing"

func TestEnvFlag(t *testing.T) {
	var e envFlag
	for _, v := range []string{"GOGC=50", "GOMEMLIMIT=64MiB"} {
		if err := e.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if e.String() != "GOGC=50 GOMEMLIMIT=64MiB" {
		t.Errorf("envFlag = %q", e.String())
	}
	for _, bad := range []string{"GOGC", "=1", ""} {
		if err := e.Set(bad); err == nil {
			t.Errorf("Set(%q) succeeded", bad)
		}
	}
}
