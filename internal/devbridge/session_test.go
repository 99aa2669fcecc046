package devbridge

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

func TestRunSession(t *testing.T) {
	var order []string
	err := RunSession(context.Background(), t.TempDir(), "", func(s *Session) error {
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
		t.Errorf("RunSession = %v, want the Fatalf message", err)
	}
	if strings.Join(order, ",") != "second,first" {
		t.Errorf("cleanups ran %v, want last first", order)
	}

	want := errors.New("phase failed")
	var failed bool
	err = RunSession(context.Background(), t.TempDir(), "", func(s *Session) error {
		s.Cleanup(func() { failed = s.Failed() })
		return want
	})
	if !errors.Is(err, want) || !failed {
		t.Errorf("RunSession = %v, Failed() in cleanup = %v; want the error and true", err, failed)
	}
}
