//go:build unix

package cpim

import (
	"bytes"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// reportCPU adds a cpu-ns/op metric: user+system CPU time of the process
// (GC included) per operation. On a loaded machine it varies much less
// than ns/op, which also counts time spent waiting for a CPU.
func reportCPU(b *testing.B) func() {
	start := cpuNanos()
	return func() { b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op") }
}

func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func benchInput(b *testing.B) []byte {
	in, err := os.ReadFile(filepath.Join("testdata", "rfc3862-s5.1-example.cpim-body.crlf.txt"))
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// BenchmarkParse parses the RFC 3862 §5.1 message.
func BenchmarkParse(b *testing.B) {
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNetMailBaseline reads the same octets with net/mail: the
// message headers into a map, then the rest as the body (it does not look
// into the content headers, so it does less than Parse).
func BenchmarkNetMailBaseline(b *testing.B) {
	in := benchInput(b)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		msg, err := mail.ReadMessage(bytes.NewReader(in))
		if err != nil {
			b.Fatal(err)
		}
		if msg.Header.Get("From") == "" || len(msg.Header["Subject"]) != 2 {
			b.Fatal("headers not read")
		}
		body, err := io.ReadAll(msg.Body)
		if err != nil || len(body) == 0 {
			b.Fatal("body not read", err)
		}
	}
}

// BenchmarkSerialize writes the parsed §5.1 message into a reused buffer.
func BenchmarkSerialize(b *testing.B) {
	m, err := Parse(benchInput(b))
	if err != nil {
		b.Fatal(err)
	}
	buf := m.Bytes()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		buf = m.AppendTo(buf[:0])
	}
}

func message64K() *Message {
	return NewText(Address{"Alice", "im:alice@example.com"}, Address{"Bob", "im:bob@example.com"}, string(bytes.Repeat([]byte("0123456789abcdef"), 4096)))
}

// BenchmarkSerialize64K writes a message with a 64 KiB body into a new
// slice, as a transport does per message.
func BenchmarkSerialize64K(b *testing.B) {
	m := message64K()
	b.SetBytes(int64(len(m.Content.Body)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if len(m.Bytes()) < 64<<10 {
			b.Fatal("short")
		}
	}
}

// BenchmarkCopy64KBaseline is the floor for BenchmarkSerialize64K: one
// allocation and one copy of the body.
func BenchmarkCopy64KBaseline(b *testing.B) {
	body := message64K().Content.Body
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		out := make([]byte, 0, len(body)+160)
		if out = append(out, body...); len(out) < 64<<10 {
			b.Fatal("short")
		}
	}
}
