package harness

import "testing"

func TestParseGoMemory(t *testing.T) {
	heap := []byte("heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 10\n# Sys = 5000\n# HeapAlloc = 1234\n# HeapSys = 4000\n# HeapInuse = 2048\n# HeapReleased = 512\n# Stack = 768 / 1024\n# NumGC = 7\n")
	got, err := parseGoMemory(heap, []byte("goroutine profile: total 42\n5 @ 0x1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (GoMemory{HeapAlloc: 1234, HeapInuse: 2048, StackInuse: 768, Sys: 5000, HeapReleased: 512, Goroutines: 42}); got != want {
		t.Errorf("parseGoMemory = %+v, want %+v", got, want)
	}
	if _, err := parseGoMemory([]byte("# HeapAlloc = 1\n"), []byte("goroutine profile: total 1\n")); err == nil {
		t.Error("a heap profile without most MemStats lines parsed")
	}
	if _, err := parseGoMemory(heap, []byte("nonsense\n")); err == nil {
		t.Error("a goroutine profile without its total parsed")
	}
}
