package cpim

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addSeeds adds every test vector, plus its LF-only form, to the corpus.
func addSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")))
		if strings.Contains(name, "crlf") && !strings.Contains(name, "full-mime") && !strings.Contains(name, "s5.1") {
			f.Add(append(b, minimalContent...))
		}
	}
}

// FuzzParse: no input panics, and what parses serializes to something that
// parses to the same message and the same octets.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, lenient := range []bool{false, true} {
			p := Parser{Lenient: lenient}
			for _, parse := range []func([]byte) (*Message, error){p.Parse, p.ParseMIME} {
				m, err := parse(in)
				if err != nil {
					if m != nil {
						t.Fatal("message and error")
					}
					continue
				}
				checkRoundTrip(t, &p, m)
			}
		}
	})
}

// FuzzRoundTrip: the output of any leniently parsed message is strict
// RFC 3862 (except for what lenient parsing keeps unrepaired), reads back
// as the same message, and is stable.
func FuzzRoundTrip(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := (&Parser{Lenient: true}).Parse(in)
		if err != nil {
			return
		}
		// What lenient parsing cannot repair without inventing or dropping
		// data (see the package documentation) needs a lenient reader.
		strict := &Parser{}
		undeclared := m.CheckRequire(func(string, string) bool { return true }) != nil
		for _, h := range m.Headers {
			undeclared = undeclared || h.NS == ""
		}
		if undeclared || len(m.Values(HeaderNamespace, "From")) > 1 || len(m.Values(HeaderNamespace, "DateTime")) > 1 ||
			m.Content.Get("Content-Type") == "" {
			strict.Lenient = true
		}
		checkRoundTrip(t, strict, m)
		if strict.Lenient {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Validate: %v\n%q", err, m.Bytes())
		}
	})
}

func checkRoundTrip(t *testing.T, p *Parser, m *Message) {
	t.Helper()
	out := m.Bytes()
	// Repairs may lengthen lines (escaping, percent-encoding): no limits.
	m2, err := (&Parser{Lenient: p.Lenient, MaxLineLen: -1, MaxHeaders: -1, MaxBody: -1}).Parse(out)
	if err != nil {
		t.Fatalf("output does not parse (lenient=%v): %v\n%q", p.Lenient, err, out)
	}
	m.SyncHeaders()
	m2.SyncHeaders()
	if !sameMessage(m, m2) {
		t.Fatalf("round trip changed the message\n%+v\n%+v\n%q", m, m2, out)
	}
	if out2 := m2.Bytes(); !bytes.Equal(out, out2) {
		t.Fatalf("serialization not stable\n%q\n%q", out, out2)
	}
}

// sameMessage is equalMessage without a testing.T.
func sameMessage(a, b *Message) bool {
	if !a.DateTime.Equal(b.DateTime) || a.From != b.From || !equalSlices(a.To, b.To) || !equalSlices(a.Cc, b.Cc) ||
		!equalSlices(a.Subject, b.Subject) || !equalSlices(a.NS, b.NS) || !equalSlices(a.Require, b.Require) ||
		!equalSlices(a.Content.Header, b.Content.Header) || !bytes.Equal(a.Content.Body, b.Content.Body) ||
		(a.Content.Body == nil) != (b.Content.Body == nil) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		x, y := a.Headers[i], b.Headers[i]
		if x.Prefix != y.Prefix || x.Name != y.Name || x.NS != y.NS || x.Value != y.Value || !equalSlices(x.Params, y.Params) {
			return false
		}
	}
	return true
}

// FuzzURI: ParseURI never panics, and String is a fixed point of parsing.
func FuzzURI(f *testing.F) {
	for _, s := range []string{
		"im:fred@example.com", "im:pepp=example.com/fred@relay-domain", "im:", "IM:Fred@Example.COM?subject=a%20b&x=y",
		"im:%22a@b%22@x.org", "im:a@[192.0.2.1]", "pres:a@b.c", "sip:alice@example.com;transport=tcp", "tel:+1-201-555-0123",
		"xmpp:juliet@example.com/balcony", "sip:%7ealice%2f@x", "im:tigger", "im:a@x.org#f",
	} {
		f.Add(s)
	}
	for _, name := range []string{"rfc3860-s3.2-im-uri-example.txt", "rfc3860-sB.2-source-route-example.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Fields(string(b)) {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		str := u.String()
		u2, err := ParseURI(str)
		if err != nil {
			t.Fatalf("ParseURI(%q).String() = %q does not parse: %v", s, str, err)
		}
		if str2 := u2.String(); str2 != str {
			t.Fatalf("String not a fixed point: %q -> %q -> %q", s, str, str2)
		}
		if u2.Scheme != u.Scheme || u2.User != u.User || u2.Domain != u.Domain || u2.Opaque != u.Opaque || !equalSlices(u2.Headers, u.Headers) {
			t.Fatalf("%q and %q parse differently: %+v %+v", s, str, u, u2)
		}
		// A URI that ParseURI accepts is a valid message header URI.
		if msg := checkURI(s, false); msg != "" {
			t.Fatalf("ParseURI accepts %q but checkURI says %s", s, msg)
		}
	})
}
