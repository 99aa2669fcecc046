package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestRunSession(t *testing.T) {
	var order []string
	err := runSession(context.Background(), t.TempDir(), func(s *session) error {
		s.Cleanup(func() { order = append(order, "first") })
		s.Cleanup(func() { order = append(order, "second") })
		if fi, err := os.Stat(s.TempDir()); err != nil || !fi.IsDir() {
			t.Errorf("TempDir: %v", err)
		}
		if a, b := s.TempDir(), s.TempDir(); a == b {
			t.Errorf("two TempDir calls gave %s twice", a)
		}
		s.Fatalf("homeserver %s", "gone")
		t.Error("Fatalf returned")
		return nil
	})
	if err == nil || err.Error() != "homeserver gone" {
		t.Errorf("runSession = %v, want the Fatalf message", err)
	}
	if strings.Join(order, ",") != "second,first" {
		t.Errorf("cleanups ran %v, want last first", order)
	}

	want := errors.New("phase failed")
	var failed bool
	err = runSession(context.Background(), t.TempDir(), func(s *session) error {
		s.Cleanup(func() { failed = s.Failed() })
		return want
	})
	if !errors.Is(err, want) || !failed {
		t.Errorf("runSession = %v, Failed() in cleanup = %v; want the error and true", err, failed)
	}
}

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
