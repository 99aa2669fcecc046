package cpim

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const imdnNS = "urn:ietf:params:imdn"

func TestNewText(t *testing.T) {
	m := NewText(Address{"Alice", "im:alice@example.com"}, Address{"Bob B", "im:bob@example.com"}, "Hello\r\nWorld")
	want := "From: Alice <im:alice@example.com>\r\n" +
		"To: Bob B <im:bob@example.com>\r\n" +
		"\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Hello\r\nWorld"
	if got := string(m.Bytes()); got != want {
		t.Errorf("Bytes() = %q", got)
	}
	if err := m.Validate(); err != nil {
		t.Error(err)
	}
	if m.Content.Type() != "text/plain" || m.Content.TypeParams()["charset"] != "utf-8" {
		t.Errorf("content type %q %v", m.Content.Type(), m.Content.TypeParams())
	}
}

// TestBuild writes a message built from typed fields and extension headers
// and reads it back.
func TestBuild(t *testing.T) {
	m := NewText(Address{"Alice", "im:alice@example.com"}, Address{"", "im:bob@example.com"}, "hi")
	m.Add(imdnNS, "imdn", "Message-ID", "34jk324j")
	m.Add(imdnNS, "imdn", "Disposition-Notification", "positive-delivery, negative-delivery")
	m.DateTime = time.Date(2006, 4, 4, 12, 16, 49, 0, time.FixedZone("", -5*3600))
	m.Cc = []Address{{"Smith, John", "im:john@example.com"}}
	m.Subject = []Subject{{"", "line one\nline two"}, {"fr", `C:\chemin "cité"`}}
	m.Require = []string{"imdn.Message-ID"}
	want := "From: Alice <im:alice@example.com>\r\n" +
		"To: <im:bob@example.com>\r\n" +
		"cc: \"Smith, John\"<im:john@example.com>\r\n" +
		"DateTime: 2006-04-04T12:16:49-05:00\r\n" +
		"Subject: line one\\nline two\r\n" +
		"Subject:;lang=fr C:\\\\chemin \"cité\"\r\n" +
		"NS: imdn <urn:ietf:params:imdn>\r\n" +
		"Require: imdn.Message-ID\r\n" +
		"imdn.Message-ID: 34jk324j\r\n" +
		"imdn.Disposition-Notification: positive-delivery, negative-delivery\r\n" +
		"\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"hi"
	if got := string(m.Bytes()); got != want {
		t.Errorf("Bytes():\n%s\nwant:\n%s", got, want)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	m.SyncHeaders()
	equalMessage(t, got, m)
	if err := got.CheckRequire(func(ns, name string) bool { return ns == imdnNS && name == "Message-ID" }); err != nil {
		t.Error(err)
	}
}

// TestMerge checks how edits to the typed fields of a parsed message are
// written: in place, appended after their kind, dropped.
func TestMerge(t *testing.T) {
	const in = "To: A <im:a@x.org>\r\n" +
		"X: 1\r\n" +
		"To: B <im:b@x.org>\r\n" +
		"NS: p <urn:p>\r\n" +
		"p.Y: 2\r\n" +
		"Subject: s\r\n" +
		"\r\n" +
		"Content-Type: text/plain\r\n\r\n"
	const tail = "\r\nContent-Type: text/plain\r\n\r\n"
	tests := []struct {
		name string
		edit func(m *Message)
		want string
	}{
		{"unchanged", func(m *Message) {}, in},
		{"rewrite in place", func(m *Message) { m.To[1].Name = "Bee" },
			"To: A <im:a@x.org>\r\nX: 1\r\nTo: Bee <im:b@x.org>\r\nNS: p <urn:p>\r\np.Y: 2\r\nSubject: s\r\n" + tail},
		{"append after last of kind", func(m *Message) { m.To = append(m.To, Address{"", "im:c@x.org"}) },
			"To: A <im:a@x.org>\r\nX: 1\r\nTo: B <im:b@x.org>\r\nTo: <im:c@x.org>\r\nNS: p <urn:p>\r\np.Y: 2\r\nSubject: s\r\n" + tail},
		{"drop", func(m *Message) { m.To = m.To[:1]; m.Subject = nil },
			"To: A <im:a@x.org>\r\nX: 1\r\nNS: p <urn:p>\r\np.Y: 2\r\n" + tail},
		{"insert new kinds in order", func(m *Message) {
			m.From = Address{"", "im:f@x.org"}
			m.DateTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
			m.Require = []string{"p.Y"}
		}, "From: <im:f@x.org>\r\nTo: A <im:a@x.org>\r\nDateTime: 2020-01-02T03:04:05Z\r\nX: 1\r\nTo: B <im:b@x.org>\r\nNS: p <urn:p>\r\nRequire: p.Y\r\np.Y: 2\r\nSubject: s\r\n" + tail},
		{"header edits", func(m *Message) { m.Headers[1].Value = "one" },
			"To: A <im:a@x.org>\r\nX: one\r\nTo: B <im:b@x.org>\r\nNS: p <urn:p>\r\np.Y: 2\r\nSubject: s\r\n" + tail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(m)
			if got := string(m.Bytes()); got != tt.want {
				t.Errorf("Bytes():\n%q\nwant\n%q", got, tt.want)
			}
			if err := m.Validate(); err != nil {
				t.Error(err)
			}
			back, err := Parse(m.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			m.SyncHeaders()
			equalMessage(t, back, m)
		})
	}
}

// TestMergeDefaultNamespace: a typed header without a sibling goes before
// an NS line that switches the default namespace, where an unprefixed name
// still means the CPIM header.
func TestMergeDefaultNamespace(t *testing.T) {
	m, err := Parse([]byte("NS: <http://x/>\r\nfoo: bar\r\n" + minimalContent))
	if err != nil {
		t.Fatal(err)
	}
	m.Require = []string{"From"}
	m.Cc = []Address{{"", "im:c@x.org"}}
	want := "cc: <im:c@x.org>\r\nRequire: From\r\nNS: <http://x/>\r\nfoo: bar\r\n" + minimalContent
	if got := string(m.Bytes()); got != want {
		t.Errorf("Bytes() = %q", got)
	}
	if err := m.Validate(); err != nil {
		t.Error(err)
	}
}

func TestAdd(t *testing.T) {
	m := NewText(Address{"", "im:a@x.org"}, Address{"", "im:b@x.org"}, "")
	m.Add("urn:x", "p", "A", " one\r\n ")         // trimmed, CR LF escaped
	m.Add("urn:x", "p", "B", "t\twith\\\\escape") // backslash is raw
	m.Add("urn:y", "p", "C", "3")                 // rebinds p: positional
	m.Add("http://def/", "", "D", "4")            // switches the default namespace
	m.Add(HeaderNamespace, "", "To", "<im:c@x.org>")
	m.Add(HeaderNamespace, "", "From", "New <im:n@x.org>")
	m.Add(HeaderNamespace, "", "DateTime", "garbage") // kept as an extension header
	want := "From: New <im:n@x.org>\r\n" +
		"To: <im:b@x.org>\r\n" +
		"To: <im:c@x.org>\r\n" +
		"NS: p <urn:x>\r\n" +
		"p.A: one\\r\\n\r\n" +
		"p.B: t\\twith\\\\escape\r\n" +
		"NS: p <urn:y>\r\n" +
		"p.C: 3\r\n" +
		"NS: cpim <urn:ietf:params:cpim-headers:>\r\n" +
		"NS: <http://def/>\r\n" +
		"D: 4\r\n" +
		"cpim.NS: <urn:ietf:params:cpim-headers:>\r\n" +
		"DateTime: garbage\r\n" +
		"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
	if got := string(m.Bytes()); got != want {
		t.Errorf("Bytes():\n%s\nwant\n%s", got, want)
	}
	if err := m.Validate(); err == nil || err.Error() != "line 13: DateTime is not an RFC 3339 date-time" {
		t.Errorf("Validate() = %v", err)
	}
	for _, c := range []struct{ ns, name, want string }{
		{"urn:x", "A", `one\r\n`}, {"urn:x", "B", `t\twith\\escape`}, {"urn:y", "C", "3"}, {"http://def/", "D", "4"},
		{HeaderNamespace, "From", "New <im:n@x.org>"},
	} {
		if v, ok := m.Get(c.ns, c.name); !ok || v != c.want {
			t.Errorf("Get(%s, %s) = %q, %v", c.ns, c.name, v, ok)
		}
	}
	if got := m.Values(HeaderNamespace, "To"); !reflect.DeepEqual(got, []string{"<im:b@x.org>", "<im:c@x.org>"}) {
		t.Errorf("Values(To) = %q", got)
	}
	if _, ok := m.Get("urn:y", "A"); ok {
		t.Error("Get found a header in the wrong namespace")
	}
}

func TestSet(t *testing.T) {
	m, err := Parse([]byte("From: <im:a@x.org>\r\nNS: p <urn:x>\r\np.A: 1\r\nTo: <im:t@x.org>\r\np.A: 2\r\nTo: <im:u@x.org>\r\n" + minimalContent))
	if err != nil {
		t.Fatal(err)
	}
	m.Set("urn:x", "q", "A", "3") // in place, keeps prefix p
	m.Set(HeaderNamespace, "", "To", "<im:v@x.org>")
	m.Set("urn:z", "z", "New", "4") // appended
	want := "From: <im:a@x.org>\r\nNS: p <urn:x>\r\nNS: z <urn:z>\r\np.A: 3\r\nTo: <im:v@x.org>\r\nz.New: 4\r\n" + minimalContent
	if got := string(m.Bytes()); got != want {
		t.Errorf("Bytes():\n%q\nwant\n%q", got, want)
	}
	if err := m.Validate(); err != nil {
		t.Error(err)
	}
}

func TestCheckRequire(t *testing.T) {
	m, err := Parse(readVector(t, "rfc3862-s5.1-example.cpim-body.crlf.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	err = m.CheckRequire(func(ns, name string) bool {
		asked = append(asked, ns+" "+name)
		return false
	})
	var re *RequireError
	if !errors.As(err, &re) || !reflect.DeepEqual(re.Headers, []string{"MyFeatures.VitalMessageOption"}) {
		t.Errorf("CheckRequire = %v", err)
	}
	if !reflect.DeepEqual(asked, []string{"mid:MessageFeatures@id.foo.com VitalMessageOption"}) {
		t.Errorf("asked %q", asked)
	}
	if err.Error() != "cpim: required but not understood: MyFeatures.VitalMessageOption" {
		t.Errorf("Error() = %q", err)
	}
	if err := m.CheckRequire(func(ns, name string) bool { return ns == "mid:MessageFeatures@id.foo.com" }); err != nil {
		t.Errorf("understood: %v", err)
	}

	// Core headers are understood; an undeclared prefix (lenient) or one
	// declared only after the Require is not resolvable.
	m, err = (&Parser{Lenient: true}).Parse([]byte("Require: From,cc,Locale.MustRenderKanji,late.X\r\nNS: late <urn:late>\r\n" + minimalContent))
	if err != nil {
		t.Fatal(err)
	}
	err = m.CheckRequire(func(ns, name string) bool { return true })
	if !errors.As(err, &re) || !reflect.DeepEqual(re.Headers, []string{"Locale.MustRenderKanji", "late.X"}) {
		t.Errorf("CheckRequire = %v", err)
	}
	// Built message: the Require list resolves against the typed NS.
	b := NewText(Address{"", "im:a@x.org"}, Address{"", "im:b@x.org"}, "")
	b.NS = []Namespace{{"n", "urn:n"}}
	b.Require = []string{"n.Y"}
	if err := b.CheckRequire(func(ns, name string) bool { return ns == "urn:n" && name == "Y" }); err != nil {
		t.Errorf("built: %v", err)
	}
}

func TestValidate(t *testing.T) {
	base := func() *Message { return NewText(Address{"", "im:a@x.org"}, Address{"", "im:b@x.org"}, "x") }
	tests := []struct {
		name string
		edit func(m *Message)
		want string
	}{
		{"ok", func(m *Message) {}, ""},
		{"bad name", func(m *Message) { m.Add("urn:x", "p", "bad name", "v") }, `"bad name" in namespace "urn:x" reads back as "bad-name"`},
		{"undeclared", func(m *Message) {
			m.Headers = append(m.Headers, Header{Prefix: "q", Name: "X", NS: "urn:q", Value: "v"})
		}, "not declared"},
		{"bad uri", func(m *Message) { m.From.URI = "not a uri" }, "From: URI has no scheme"},
		{"bad lang", func(m *Message) { m.Subject = []Subject{{"x y", "s"}} }, "Subject does not survive"},
		{"year", func(m *Message) { m.DateTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "RFC 3339"},
		{"no content type", func(m *Message) { m.Content.Header = nil }, "no Content-Type"},
		{"field", func(m *Message) { m.Content.Header = append(m.Content.Header, Field{"X", "a\nb"}) }, "content header field"},
		{"NS fragment", func(m *Message) { m.NS = []Namespace{{"p", "http://x/#f"}} }, "fragment"},
	}
	for _, tt := range tests {
		m := base()
		tt.edit(m)
		err := m.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestNoInjection: whatever the fields hold, a header cannot end its line.
func TestNoInjection(t *testing.T) {
	m := NewText(Address{"x\r\nFrom: <im:evil@x.org>", "im:a@x.org\r\nTo: <im:e@x.org>"}, Address{"", "im:b@x.org"}, "body")
	m.Subject = []Subject{{"fr\r\nX: y", "s\r\nY: z"}}
	m.NS = []Namespace{{"p\r\nq", "urn:x\r\nZ: 1"}}
	m.Require = []string{"a\r\nb"}
	m.Headers = append(m.Headers, Header{Prefix: "p\r\n", Name: "N\r\n: x", NS: "urn:x", Params: []Param{{"a\r\n", "b\r\n"}}, Value: "v\r\nW: 2"})
	m.Content.Header = append(m.Content.Header, Field{"F\r\nG", "v\r\nH: 3"})
	head, body, _ := strings.Cut(string(m.Bytes()), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	var names []string
	for _, l := range lines {
		name, _, _ := strings.Cut(l, ":")
		names = append(names, name)
	}
	if want := []string{"From", "To", "Subject", "NS", "Require", "p--.N----x"}; !reflect.DeepEqual(names, want) {
		t.Errorf("header lines %q", lines)
	}
	if want := "Content-Type: text/plain; charset=utf-8\r\nF--G: v\r\n H: 3\r\n\r\nbody"; body != want {
		t.Errorf("content %q", body)
	}
}
