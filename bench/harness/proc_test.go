package harness

import (
	"os"
	"testing"
)

func TestReadProc(t *testing.T) {
	m, err := ReadMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("ReadMemory = %+v, want 0 < RSS <= Peak", m)
	}
	busy := make([]byte, 1<<20)
	for i := range 50_000_000 {
		busy[i%len(busy)]++
	}
	cpu, err := ReadCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if cpu <= 0 {
		t.Errorf("ReadCPU after a busy loop = %v", cpu)
	}
	machine, err := ReadMachineCPU()
	if err != nil {
		t.Fatal(err)
	}
	if machine < cpu {
		t.Errorf("machine busy time %v is less than this process's %v", machine, cpu)
	}
	if _, err := ReadMemory(-1); err == nil {
		t.Error("ReadMemory(-1) succeeded")
	}
	if _, err := ReadCPU(-1); err == nil {
		t.Error("ReadCPU(-1) succeeded")
	}
}
