package cpim

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readVector(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// minimalContent completes a header fragment of the RFC into a message.
const minimalContent = "\r\nContent-Type: text/plain\r\n\r\n"

func hdr(prefix, name, ns, value string, params ...Param) Header {
	return Header{Prefix: prefix, Name: name, NS: ns, Params: params, Value: value}
}

const cp = HeaderNamespace

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// equalMessage compares two messages field by field, DateTime by instant.
func equalMessage(t *testing.T, got, want *Message) {
	t.Helper()
	if !got.DateTime.Equal(want.DateTime) {
		t.Errorf("DateTime = %v, want %v", got.DateTime, want.DateTime)
	}
	g, w := *got, *want
	g.DateTime, w.DateTime = time.Time{}, time.Time{}
	norm := func(m *Message) {
		for i := range m.Headers {
			if len(m.Headers[i].Params) == 0 {
				m.Headers[i].Params = nil
			}
		}
	}
	g.Headers = append([]Header(nil), g.Headers...)
	w.Headers = append([]Header(nil), w.Headers...)
	norm(&g)
	norm(&w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("message mismatch\n got %+v\nwant %+v", g, w)
	}
}

// TestRFC3862Example51 checks everything the vectors README says the §5.1
// example must yield, through both entry points.
func TestRFC3862Example51(t *testing.T) {
	want := &Message{
		From:     Address{"MR SANDERS", "im:piglet@100akerwood.com"},
		To:       []Address{{"Depressed Donkey", "im:eeyore@100akerwood.com"}},
		DateTime: mustTime("2000-12-13T21:40:00Z"),
		Subject:  []Subject{{"", "the weather will be fine today"}, {"fr", "beau temps prevu pour aujourd'hui"}},
		NS:       []Namespace{{"MyFeatures", "mid:MessageFeatures@id.foo.com"}},
		Require:  []string{"MyFeatures.VitalMessageOption"},
		Headers: []Header{
			hdr("", "From", cp, "MR SANDERS <im:piglet@100akerwood.com>"),
			hdr("", "To", cp, "Depressed Donkey <im:eeyore@100akerwood.com>"),
			hdr("", "DateTime", cp, "2000-12-13T13:40:00-08:00"),
			hdr("", "Subject", cp, "the weather will be fine today"),
			hdr("", "Subject", cp, "beau temps prevu pour aujourd'hui", Param{"lang", "fr"}),
			hdr("", "NS", cp, "MyFeatures <mid:MessageFeatures@id.foo.com>"),
			hdr("", "Require", cp, "MyFeatures.VitalMessageOption"),
			hdr("MyFeatures", "VitalMessageOption", "mid:MessageFeatures@id.foo.com", "Confirmation-requested"),
			hdr("MyFeatures", "WackyMessageOption", "mid:MessageFeatures@id.foo.com", "Use-silly-font"),
		},
		Content: Content{
			Header: []Field{{"Content-type", "text/xml; charset=utf-8"}, {"Content-ID", "<1234567890@foo.com>"}},
			Body:   []byte("<body>\r\nHere is the text of my message.\r\n</body>\r\n"),
		},
	}
	body := readVector(t, "rfc3862-s5.1-example.cpim-body.crlf.txt")
	full := readVector(t, "rfc3862-s5.1-example.full-mime.crlf.txt")
	for _, lenient := range []bool{false, true} {
		p := Parser{Lenient: lenient}
		m, err := p.Parse(body)
		if err != nil {
			t.Fatalf("Parse (lenient=%v): %v", lenient, err)
		}
		equalMessage(t, m, want)
		if _, off := m.DateTime.Zone(); off != -8*3600 {
			t.Errorf("DateTime offset = %d, want -08:00 kept", off)
		}
		m2, err := p.ParseMIME(full)
		if err != nil {
			t.Fatalf("ParseMIME (lenient=%v): %v", lenient, err)
		}
		equalMessage(t, m2, want)
		if got := m.Bytes(); !bytes.Equal(got, body) {
			t.Errorf("Bytes() is not the input:\n%q\n%q", got, body)
		}
		var buf bytes.Buffer
		if err := m.WriteMIME(&buf); err != nil {
			t.Fatal(err)
		}
		// The figure writes "Content-type: Message/CPIM"; WriteMIME uses the
		// canonical spelling, the rest is identical.
		if got, want := buf.String(), "Content-Type: message/cpim"+string(full[len("Content-type: Message/CPIM"):]); got != want {
			t.Errorf("WriteMIME:\n%q\nwant\n%q", got, want)
		}
	}
	m, _ := Parse(body)
	if got := m.Content.Type(); got != "text/xml" {
		t.Errorf("Type() = %q", got)
	}
	if got := m.Content.TypeParams(); !reflect.DeepEqual(got, map[string]string{"charset": "utf-8"}) {
		t.Errorf("TypeParams() = %v", got)
	}
	if v, ok := m.Get("mid:MessageFeatures@id.foo.com", "WackyMessageOption"); !ok || v != "Use-silly-font" {
		t.Errorf("Get WackyMessageOption = %q, %v", v, ok)
	}
	if got := m.Values(cp, "Subject"); !reflect.DeepEqual(got, []string{"the weather will be fine today", "beau temps prevu pour aujourd'hui"}) {
		t.Errorf("Values Subject = %q", got)
	}
}

// TestRFC3862Example52 parses the message/cpim part of the multipart/signed
// example: the signed entity includes its own Content-Type header.
func TestRFC3862Example52(t *testing.T) {
	b := readVector(t, "rfc3862-s5.2-multipart-signed.full-mime.crlf.txt")
	// Outer headers are MIME (folded); the first part lies between the
	// first two delimiters, the CRLF before a delimiter belonging to it.
	parts := bytes.Split(b, []byte("\r\n--next"))
	if len(parts) != 4 {
		t.Fatalf("got %d pieces", len(parts))
	}
	part := bytes.TrimPrefix(parts[1], []byte("\r\n"))
	m, err := ParseMIME(part)
	if err != nil {
		t.Fatal(err)
	}
	if m.To[0] != (Address{"Dopey Donkey", "im:eeyore@100akerwood.com"}) {
		t.Errorf("To = %+v", m.To)
	}
	if got := string(m.Content.Body); got != "<body>\r\nHere is the text of my message.\r\n</body>" {
		t.Errorf("Body = %q", got)
	}
	var buf bytes.Buffer
	m.WriteMIME(&buf)
	if !strings.HasSuffix(string(part), buf.String()[len(mimePrefix):]) {
		t.Errorf("message headers and content not reproduced exactly")
	}
	// The outer entity is multipart/signed, not message/cpim.
	if _, err := ParseMIME(b); err == nil || !strings.Contains(err.Error(), "multipart/signed") {
		t.Errorf("ParseMIME(outer) error = %v", err)
	}
}

// TestRFC3862Fragments checks the header examples of §2.2–§4.7, each
// completed with a minimal content.
func TestRFC3862Fragments(t *testing.T) {
	acme := "http://id.acme.widgets/wily-headers/"
	mid := "mid:MessageFeatures@id.foo.com"
	tests := []struct {
		file    string
		want    Message // typed fields and Headers
		strict  string  // substring of the strict error; "" = strict accepts
		lenient *Message
	}{
		{file: "rfc3862-s2.2-header-examples.crlf.txt", want: Message{
			From:     Address{"", "im:piglet@100akerwood.com"},
			To:       []Address{{"Pooh Bear", "im:pooh@100akerwood.com"}},
			DateTime: mustTime("2001-02-02T15:48:54Z"),
			Headers: []Header{hdr("", "To", cp, "Pooh Bear <im:pooh@100akerwood.com>"),
				hdr("", "From", cp, "<im:piglet@100akerwood.com>"), hdr("", "DateTime", cp, "2001-02-02T10:48:54-05:00")},
		}},
		{file: "rfc3862-s3.3-lang-example.crlf.txt", want: Message{
			Subject: []Subject{{"fr", "Objet de message"}},
			Headers: []Header{hdr("", "Subject", cp, "Objet de message", Param{"lang", "fr"})},
		}},
		{file: "rfc3862-s3.4-ns-example-1.crlf.txt", want: Message{
			NS:      []Namespace{{"MyFeatures", mid}},
			Headers: []Header{hdr("", "NS", cp, "MyFeatures <"+mid+">"), hdr("MyFeatures", "WackyMessageOption", mid, "Use-silly-font")},
		}},
		{file: "rfc3862-s3.4-ns-example-2-prefix-local.crlf.txt", strict: `line 1: namespace prefix "xxx" not declared`,
			lenient: &Message{Headers: []Header{hdr("xxx", "name", "", "value"), hdr("yyy", "name", "", "value")}}},
		{file: "rfc3862-s3.4-ns-example-3-acme.crlf.txt", want: Message{
			NS:      []Namespace{{"acme", acme}},
			Headers: []Header{hdr("", "NS", cp, "acme <"+acme+">"), hdr("acme", "runner-trap", acme, "set")},
		}},
		{file: "rfc3862-s3.4-ns-example-4-widget.crlf.txt", want: Message{
			NS:      []Namespace{{"widget", acme}},
			Headers: []Header{hdr("", "NS", cp, "widget <"+acme+">"), hdr("widget", "runner-trap", acme, "set")},
		}},
		{file: "rfc3862-s3.4-ns-example-5-default-ns.crlf.txt", want: Message{
			NS:      []Namespace{{"", acme}},
			Headers: []Header{hdr("", "NS", cp, "<"+acme+">"), hdr("", "runner-trap", acme, "set")},
		}},
		{file: "rfc3862-s3.5-require-example-1.crlf.txt", strict: `line 1: namespace prefix "MyFeatures" in Require not declared`,
			lenient: &Message{Require: []string{"MyFeatures.VitalMessageOption"}, Headers: []Header{
				hdr("", "Require", cp, "MyFeatures.VitalMessageOption"), hdr("MyFeatures", "VitalMessageOption", "", "Confirmation-requested")}}},
		{file: "rfc3862-s3.5-require-example-2-kanji.crlf.txt", strict: `namespace prefix "Locale" in Require not declared`,
			lenient: &Message{Require: []string{"Locale.MustRenderKanji"}, Headers: []Header{hdr("", "Require", cp, "Locale.MustRenderKanji")}}},
		{file: "rfc3862-s4.1-from-example-1.crlf.txt", want: Message{
			From: Address{"Winnie the Pooh", "im:pooh@100akerwood.com"}, Headers: []Header{hdr("", "From", cp, "Winnie the Pooh <im:pooh@100akerwood.com>")}}},
		{file: "rfc3862-s4.1-from-example-2.crlf.txt", want: Message{
			From: Address{"", "im:tigger@100akerwood.com"}, Headers: []Header{hdr("", "From", cp, "<im:tigger@100akerwood.com>")}}},
		{file: "rfc3862-s4.2-to-example-1.crlf.txt", want: Message{
			To: []Address{{"Winnie the Pooh", "im:pooh@100akerwood.com"}}, Headers: []Header{hdr("", "To", cp, "Winnie the Pooh <im:pooh@100akerwood.com>")}}},
		{file: "rfc3862-s4.2-to-example-2.crlf.txt", want: Message{
			To: []Address{{"", "im:tigger@100akerwood.com"}}, Headers: []Header{hdr("", "To", cp, "<im:tigger@100akerwood.com>")}}},
		{file: "rfc3862-s4.3-cc-example-1.crlf.txt", want: Message{
			Cc: []Address{{"Winnie the Pooh", "im:pooh@100akerwood.com"}}, Headers: []Header{hdr("", "cc", cp, "Winnie the Pooh <im:pooh@100akerwood.com>")}}},
		{file: "rfc3862-s4.3-cc-example-2.crlf.txt", want: Message{
			Cc: []Address{{"", "im:tigger@100akerwood.com"}}, Headers: []Header{hdr("", "cc", cp, "<im:tigger@100akerwood.com>")}}},
		{file: "rfc3862-s4.4-datetime-example.crlf.txt", want: Message{
			DateTime: mustTime("2001-02-01T12:16:49-05:00"), Headers: []Header{hdr("", "DateTime", cp, "2001-02-01T12:16:49-05:00")}}},
		{file: "rfc3862-s4.5-subject-example.crlf.txt", want: Message{
			Subject: []Subject{{"en", "Eeyore's feeling very depressed today"}},
			Headers: []Header{hdr("", "Subject", cp, "Eeyore's feeling very depressed today", Param{"lang", "en"})}}},
		{file: "rfc3862-s4.6-ns-example.crlf.txt", want: Message{
			NS:      []Namespace{{"MyAlias", mid}},
			Headers: []Header{hdr("", "NS", cp, "MyAlias <"+mid+">"), hdr("MyAlias", "MyHeader", mid, "private-extension-data")}}},
		{file: "rfc3862-s4.7-require-example.crlf.txt", strict: `namespace prefix "MyAlias" in Require not declared`,
			lenient: &Message{Require: []string{"MyAlias.VitalHeader"}, Headers: []Header{hdr("", "Require", cp, "MyAlias.VitalHeader")}}},
	}
	content := Content{Header: []Field{{"Content-Type", "text/plain"}}, Body: []byte{}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			in := append(readVector(t, tt.file), minimalContent...)
			for _, lenient := range []bool{false, true} {
				want := &tt.want
				if lenient && tt.lenient != nil {
					want = tt.lenient
				}
				want.Content = content
				p := Parser{Lenient: lenient}
				m, err := p.Parse(in)
				if !lenient && tt.strict != "" {
					var se *SyntaxError
					if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.strict) {
						t.Errorf("strict error = %v, want %q", err, tt.strict)
					}
					continue
				}
				if err != nil {
					t.Fatalf("lenient=%v: %v", lenient, err)
				}
				equalMessage(t, m, want)
				if got := m.Bytes(); !bytes.Equal(got, in) {
					t.Errorf("lenient=%v: output differs from input\n got %q\nwant %q", lenient, got, in)
				}
			}
		})
	}
}

// TestNamespaceEquivalence: §3.4 examples 3, 4 and 5 name the same header.
func TestNamespaceEquivalence(t *testing.T) {
	acme := "http://id.acme.widgets/wily-headers/"
	for _, f := range []string{"rfc3862-s3.4-ns-example-3-acme.crlf.txt", "rfc3862-s3.4-ns-example-4-widget.crlf.txt", "rfc3862-s3.4-ns-example-5-default-ns.crlf.txt"} {
		m, err := Parse(append(readVector(t, f), minimalContent...))
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := m.Get(acme, "runner-trap"); !ok || v != "set" {
			t.Errorf("%s: Get = %q, %v", f, v, ok)
		}
		if _, ok := m.Get(cp, "runner-trap"); ok {
			t.Errorf("%s: runner-trap found in the CPIM namespace", f)
		}
	}
}

// TestDefaultNamespaceSwitch: after NS: <uri> unprefixed core names are no
// longer core headers (T-20), a prefix bound to the CPIM namespace still
// reaches them (§4), and NS back to the CPIM namespace restores them.
func TestDefaultNamespaceSwitch(t *testing.T) {
	in := "From: <im:a@example.com>\r\n" +
		"NS: c <urn:ietf:params:cpim-headers:>\r\n" +
		"NS: <http://x.example/>\r\n" +
		"From: <im:b@example.com>\r\n" +
		"c.To: <im:c@example.com>\r\n" +
		"c.NS: <urn:ietf:params:cpim-headers:>\r\n" +
		"cc: <im:d@example.com>\r\n" +
		minimalContent
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.From.URI != "im:a@example.com" {
		t.Errorf("From = %v", m.From)
	}
	if len(m.To) != 1 || m.To[0].URI != "im:c@example.com" || len(m.Cc) != 1 {
		t.Errorf("To = %v, Cc = %v", m.To, m.Cc)
	}
	if v, ok := m.Get("http://x.example/", "From"); !ok || v != "<im:b@example.com>" {
		t.Errorf("extension From = %q, %v", v, ok)
	}
	if len(m.NS) != 3 || m.NS[2] != (Namespace{"", cp}) {
		t.Errorf("NS = %v", m.NS)
	}
	if got := string(m.Bytes()); got != in {
		t.Errorf("not reproduced:\n%q", got)
	}
}

// TestRFC5438Vectors: the IMDN figures lack the separator line; strict
// parsing rejects them, lenient parsing reads them as intended.
func TestRFC5438Vectors(t *testing.T) {
	imdnNS := "urn:ietf:params:imdn"
	tests := []struct {
		file, strict, msgID, ctype, disp string
		body                             string // prefix of the body
	}{
		{"rfc5438-s7.1.1.3-im-requesting-delivery-notifications.as-printed.crlf.txt", "line 10:", "34jk324j", "text/plain", "", "Hello World\r\n"},
		{"rfc5438-s7.2.1.1-delivery-notification.as-printed.crlf.txt", "line 9:", "d834jied93rf", "message/imdn+xml", "notification", "<?xml"},
		{"rfc5438-s7.2.1.2-display-notification.as-printed.crlf.txt", "line 9:", "dfjkleriou432333", "message/imdn+xml", "notification", "<?xml"},
		{"rfc5438-s8.1-processing-notification.as-printed.crlf.txt", "use ParseMIME", "", "message/imdn+xml", "notification", "<?xml"},
		{"rfc5438-s8.3-aggregated-imdn.as-printed.crlf.txt", "line 6: message header line starts with whitespace", "d834jied93rf", "multipart/mixed", "notification", "--imdn-boundary\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := readVector(t, tt.file)
			if _, err := Parse(b); err == nil || !strings.Contains(err.Error(), tt.strict) {
				t.Errorf("strict error = %v, want %q", err, tt.strict)
			}
			m, err := (&Parser{Lenient: true}).Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := m.Get(imdnNS, "Message-ID"); v != tt.msgID {
				t.Errorf("Message-ID = %q", v)
			}
			if m.Content.Type() != tt.ctype || m.Content.Get("content-disposition") != tt.disp {
				t.Errorf("content type %q, disposition %q", m.Content.Type(), m.Content.Get("content-disposition"))
			}
			if !bytes.HasPrefix(m.Content.Body, []byte(tt.body)) {
				t.Errorf("body = %.40q", m.Content.Body)
			}
			if m.From.URI == "" || len(m.To) != 1 {
				t.Errorf("From %v To %v", m.From, m.To)
			}
			// The output has the separator and reads back strictly.
			m2, err := Parse(m.Bytes())
			if err != nil {
				t.Fatalf("strict re-parse: %v\n%s", err, m.Bytes())
			}
			equalMessage(t, m2, m)
		})
	}
	// The aggregated IMDN keeps its folded Content-type.
	m, _ := (&Parser{Lenient: true}).Parse(readVector(t, "rfc5438-s8.3-aggregated-imdn.as-printed.crlf.txt"))
	if got := m.Content.TypeParams()["boundary"]; got != "imdn-boundary" {
		t.Errorf("boundary = %q", got)
	}
	if got := m.Content.Header[0].Value; got != "multipart/mixed;\r\n                   boundary=\"imdn-boundary\"" {
		t.Errorf("raw folded value = %q", got)
	}
}

func TestRFC5438Corrected(t *testing.T) {
	b := readVector(t, "rfc5438-s7.1.1.3.corrected.crlf.txt")
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Values("urn:ietf:params:imdn", "Disposition-Notification"); !reflect.DeepEqual(got, []string{"positive-delivery, negative-delivery"}) {
		t.Errorf("Disposition-Notification = %q", got)
	}
	if !m.DateTime.Equal(mustTime("2006-04-04T12:16:49-05:00")) {
		t.Errorf("DateTime = %v", m.DateTime)
	}
	if string(m.Content.Body) != "Hello World\r\n" || m.Content.Get("Content-Length") != "13" {
		t.Errorf("content = %q %q", m.Content.Get("Content-Length"), m.Content.Body)
	}
	if !bytes.Equal(m.Bytes(), b) {
		t.Error("not reproduced")
	}
}

// TestRFC4975Fig14 reads the CPIM body of the MSRP example: LF line ends
// and no separator line, sip: URIs.
func TestRFC4975Fig14(t *testing.T) {
	b := readVector(t, "rfc4975-s11.4-fig14.cpim-body.lf.txt")
	if _, err := Parse(b); err == nil {
		t.Error("strict parse accepted LF line ends")
	}
	m, err := (&Parser{Lenient: true}).Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.From != (Address{"Alice", "sip:alice@example.com"}) || m.To[0] != (Address{"Bob", "sip:bob@example.com"}) {
		t.Errorf("From %v To %v", m.From, m.To)
	}
	if !m.DateTime.Equal(mustTime("2006-05-15T18:02:31Z")) || string(m.Content.Body) != "ABCD" || m.Content.Type() != "text/plain" {
		t.Errorf("DateTime %v body %q type %q", m.DateTime, m.Content.Body, m.Content.Type())
	}
	want := "To: Bob <sip:bob@example.com>\r\nFrom: Alice <sip:alice@example.com>\r\nDateTime: 2006-05-15T15:02:31-03:00\r\n\r\nContent-Type: text/plain\r\n\r\nABCD"
	if got := string(m.Bytes()); got != want {
		t.Errorf("Bytes() = %q", got)
	}
}
