package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestExampleConfigUpToDate keeps example-config.yaml at the top of the repository identical to what
// `matrix-cpim -e` writes, since both come from bridge/example-config.yaml and mautrix's template.
func TestExampleConfigUpToDate(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "matrix-cpim")
	build := exec.Command("go", "build", "-tags", "goolm", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	generated, err := exec.Command(bin, "-e", "-c", "-").Output()
	if err != nil {
		t.Fatalf("matrix-cpim -e: %v", err)
	}
	committed, err := os.ReadFile("../../example-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(generated) != string(committed) {
		t.Fatal("example-config.yaml differs from `matrix-cpim -e -c -`; regenerate it with: ./matrix-cpim -e -c - > example-config.yaml")
	}
}
