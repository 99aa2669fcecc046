package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// parseJSON runs "cpimtool parse" on in and decodes its output.
func parseJSON(t *testing.T, in string, args ...string) jsonMessage {
	t.Helper()
	status, out, errOut := runTool(t, in, append([]string{"parse"}, args...)...)
	if status != exitOK || errOut != "" {
		t.Fatalf("parse %q: status %d, stderr %q", args, status, errOut)
	}
	var j jsonMessage
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("output is not the JSON shape: %v\n%s", err, out)
	}
	return j
}

func header(t *testing.T, j jsonMessage, prefix, name string) jsonHeader {
	t.Helper()
	for _, h := range j.Headers {
		if h.Prefix == prefix && h.Name == name {
			return h
		}
	}
	t.Fatalf("no header %s.%s in %+v", prefix, name, j.Headers)
	return jsonHeader{}
}

func TestParseRFC3862Section5_1(t *testing.T) {
	// The same message as a SIP/MSRP body and as a MIME entity.
	for _, file := range []string{"rfc3862-s5.1-example.cpim-body.crlf.txt", "rfc3862-s5.1-example.full-mime.crlf.txt"} {
		t.Run(file, func(t *testing.T) {
			j := parseJSON(t, "", filepath.Join("testdata", file))
			if want := (jsonAddress{"MR SANDERS", "im:piglet@100akerwood.com"}); j.From != want {
				t.Errorf("from = %+v, want %+v", j.From, want)
			}
			if want := []jsonAddress{{"Depressed Donkey", "im:eeyore@100akerwood.com"}}; !reflect.DeepEqual(j.To, want) {
				t.Errorf("to = %+v, want %+v", j.To, want)
			}
			if j.DateTime != "2000-12-13T13:40:00-08:00" {
				t.Errorf("datetime = %q", j.DateTime)
			}
			wantSubj := []jsonSubject{{"", "the weather will be fine today"}, {"fr", "beau temps prevu pour aujourd'hui"}}
			if !reflect.DeepEqual(j.Subject, wantSubj) {
				t.Errorf("subject = %+v, want %+v", j.Subject, wantSubj)
			}
			if want := map[string]string{"MyFeatures": "mid:MessageFeatures@id.foo.com"}; !reflect.DeepEqual(j.NS, want) {
				t.Errorf("ns = %v, want %v", j.NS, want)
			}
			if want := []string{"MyFeatures.VitalMessageOption"}; !reflect.DeepEqual(j.Require, want) {
				t.Errorf("require = %q, want %q", j.Require, want)
			}
			h := header(t, j, "MyFeatures", "WackyMessageOption")
			if h.NS != "mid:MessageFeatures@id.foo.com" || h.Value != "Use-silly-font" {
				t.Errorf("MyFeatures.WackyMessageOption = %+v", h)
			}
			if h := header(t, j, "", "From"); h.NS != "urn:ietf:params:cpim-headers:" || h.Value != "MR SANDERS <im:piglet@100akerwood.com>" {
				t.Errorf("From header = %+v", h)
			}
			if len(j.Headers) != 9 {
				t.Errorf("%d headers, want the 9 lines of the figure", len(j.Headers))
			}
			c := j.Content
			if c.Type != "text/xml" {
				t.Errorf("content type = %q, want text/xml", c.Type)
			}
			wantFields := []jsonField{{"Content-type", "text/xml; charset=utf-8"}, {"Content-ID", "<1234567890@foo.com>"}}
			if !reflect.DeepEqual(c.Headers, wantFields) {
				t.Errorf("content headers = %+v, want %+v", c.Headers, wantFields)
			}
			const body = "<body>\r\nHere is the text of my message.\r\n</body>\r\n"
			if c.Body != body || c.BodyBase64 != base64.StdEncoding.EncodeToString([]byte(body)) {
				t.Errorf("body = %q (%s), want %q", c.Body, c.BodyBase64, body)
			}
		})
	}
}

// TestParseRFC3862Fragments completes each header example of RFC 3862
// §2.2–§4.7 into a message and checks what the RFC says it means.  The
// examples that use a prefix without declaring it are invalid on their
// own; they are expected to fail strictly and parse leniently.
func TestParseRFC3862Fragments(t *testing.T) {
	const acme = "http://id.acme.widgets/wily-headers/"
	tests := []struct {
		file          string
		strictErrLine int
		check         func(*testing.T, jsonMessage)
	}{
		{"rfc3862-s2.2-header-examples.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if j.From.URI != "im:piglet@100akerwood.com" || len(j.To) != 1 || j.To[0].Name != "Pooh Bear" || j.DateTime != "2001-02-02T10:48:54-05:00" {
				t.Errorf("from %+v to %+v datetime %q", j.From, j.To, j.DateTime)
			}
		}},
		{"rfc3862-s3.3-lang-example.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if want := []jsonSubject{{"fr", "Objet de message"}}; !reflect.DeepEqual(j.Subject, want) {
				t.Errorf("subject = %+v, want %+v", j.Subject, want)
			}
		}},
		{"rfc3862-s3.4-ns-example-1.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if h := header(t, j, "MyFeatures", "WackyMessageOption"); h.NS != "mid:MessageFeatures@id.foo.com" {
				t.Errorf("header = %+v", h)
			}
		}},
		{"rfc3862-s3.4-ns-example-2-prefix-local.crlf.txt", 1, func(t *testing.T, j jsonMessage) {
			if h := header(t, j, "xxx", "name"); h.NS != "" || h.Value != "value" {
				t.Errorf("xxx.name = %+v, want no namespace", h)
			}
		}},
		// §3.4: the three spellings name the same header.
		{"rfc3862-s3.4-ns-example-3-acme.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if h := header(t, j, "acme", "runner-trap"); h.NS != acme || h.Value != "set" {
				t.Errorf("acme.runner-trap = %+v", h)
			}
		}},
		{"rfc3862-s3.4-ns-example-4-widget.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if h := header(t, j, "widget", "runner-trap"); h.NS != acme || h.Value != "set" {
				t.Errorf("widget.runner-trap = %+v", h)
			}
		}},
		{"rfc3862-s3.4-ns-example-5-default-ns.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if h := header(t, j, "", "runner-trap"); h.NS != acme || h.Value != "set" {
				t.Errorf("runner-trap = %+v", h)
			}
			if j.NS[""] != acme {
				t.Errorf("ns = %v, want the default namespace %s", j.NS, acme)
			}
		}},
		{"rfc3862-s3.5-require-example-1.crlf.txt", 1, func(t *testing.T, j jsonMessage) {
			if want := []string{"MyFeatures.VitalMessageOption"}; !reflect.DeepEqual(j.Require, want) {
				t.Errorf("require = %q, want %q", j.Require, want)
			}
		}},
		{"rfc3862-s3.5-require-example-2-kanji.crlf.txt", 1, func(t *testing.T, j jsonMessage) {
			if want := []string{"Locale.MustRenderKanji"}; !reflect.DeepEqual(j.Require, want) {
				t.Errorf("require = %q, want %q", j.Require, want)
			}
		}},
		{"rfc3862-s4.1-from-example-1.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if want := (jsonAddress{"Winnie the Pooh", "im:pooh@100akerwood.com"}); j.From != want {
				t.Errorf("from = %+v, want %+v", j.From, want)
			}
		}},
		{"rfc3862-s4.1-from-example-2.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if want := (jsonAddress{"", "im:tigger@100akerwood.com"}); j.From != want {
				t.Errorf("from = %+v, want %+v", j.From, want)
			}
		}},
		{"rfc3862-s4.2-to-example-1.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if want := []jsonAddress{{"Winnie the Pooh", "im:pooh@100akerwood.com"}}; !reflect.DeepEqual(j.To, want) {
				t.Errorf("to = %+v, want %+v", j.To, want)
			}
		}},
		{"rfc3862-s4.2-to-example-2.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if want := []jsonAddress{{"", "im:tigger@100akerwood.com"}}; !reflect.DeepEqual(j.To, want) {
				t.Errorf("to = %+v, want %+v", j.To, want)
			}
		}},
		{"rfc3862-s4.3-cc-example-1.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if want := []jsonAddress{{"Winnie the Pooh", "im:pooh@100akerwood.com"}}; !reflect.DeepEqual(j.Cc, want) {
				t.Errorf("cc = %+v, want %+v", j.Cc, want)
			}
		}},
		{"rfc3862-s4.3-cc-example-2.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if want := []jsonAddress{{"", "im:tigger@100akerwood.com"}}; !reflect.DeepEqual(j.Cc, want) {
				t.Errorf("cc = %+v, want %+v", j.Cc, want)
			}
		}},
		{"rfc3862-s4.4-datetime-example.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if j.DateTime != "2001-02-01T12:16:49-05:00" {
				t.Errorf("datetime = %q", j.DateTime)
			}
		}},
		{"rfc3862-s4.5-subject-example.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if want := []jsonSubject{{"en", "Eeyore's feeling very depressed today"}}; !reflect.DeepEqual(j.Subject, want) {
				t.Errorf("subject = %+v, want %+v", j.Subject, want)
			}
		}},
		{"rfc3862-s4.6-ns-example.crlf.txt", 0, func(t *testing.T, j jsonMessage) {
			if want := map[string]string{"MyAlias": "mid:MessageFeatures@id.foo.com"}; !reflect.DeepEqual(j.NS, want) {
				t.Errorf("ns = %v, want %v", j.NS, want)
			}
			if h := header(t, j, "MyAlias", "MyHeader"); h.NS != "mid:MessageFeatures@id.foo.com" || h.Value != "private-extension-data" {
				t.Errorf("MyAlias.MyHeader = %+v", h)
			}
		}},
		{"rfc3862-s4.7-require-example.crlf.txt", 1, func(t *testing.T, j jsonMessage) {
			if want := []string{"MyAlias.VitalHeader"}; !reflect.DeepEqual(j.Require, want) {
				t.Errorf("require = %q, want %q", j.Require, want)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			frag, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			in := string(frag) + "\r\nContent-Type: text/plain\r\n\r\n"
			if tt.strictErrLine == 0 {
				tt.check(t, parseJSON(t, in))
				return
			}
			status, out, errOut := runTool(t, in, "parse")
			if want := "cpimtool: line 1: "; status != exitFail || out != "" || !strings.HasPrefix(errOut, want) {
				t.Errorf("strict: status %d, stdout %q, stderr %q; want 1, nothing, %q...", status, out, errOut, want)
			}
			tt.check(t, parseJSON(t, in, "--lenient"))
		})
	}
}

func TestParseJSONKeysAlwaysPresent(t *testing.T) {
	const in = "\r\nContent-Type: text/plain\r\n\r\n"
	status, out, errOut := runTool(t, in, "parse")
	if status != exitOK {
		t.Fatalf("status %d: %s", status, errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	wantKeys := map[string][]string{
		"":        {"cc", "content", "datetime", "from", "headers", "ns", "require", "subject", "to"},
		"from":    {"name", "uri"},
		"content": {"body", "body_base64", "headers", "type"},
	}
	for path, want := range wantKeys {
		obj := doc
		if path != "" {
			obj = doc[path].(map[string]any)
		}
		var got []string
		for k := range obj {
			got = append(got, k)
		}
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("keys of %q = %q, want %q", path, got, want)
		}
	}
	for _, key := range []string{"to", "cc", "subject", "require", "headers"} {
		if v, ok := doc[key].([]any); !ok || len(v) != 0 {
			t.Errorf("%s = %#v, want []", key, doc[key])
		}
	}
	if v, ok := doc["ns"].(map[string]any); !ok || len(v) != 0 {
		t.Errorf("ns = %#v, want {}", doc["ns"])
	}
	if doc["datetime"] != "" {
		t.Errorf("datetime = %#v, want \"\"", doc["datetime"])
	}
}

func TestParseBinaryBody(t *testing.T) {
	body := "\x89PNG\r\n\x1a\n\x00\xff"
	in := "From: <im:a@example.com>\r\n\r\nContent-Type: image/png\r\n\r\n" + body
	j := parseJSON(t, in, "-")
	if j.Content.Body != "" {
		t.Errorf("body = %q, want \"\" for non-UTF-8 octets", j.Content.Body)
	}
	got, err := base64.StdEncoding.DecodeString(j.Content.BodyBase64)
	if err != nil || string(got) != body {
		t.Errorf("body_base64 decodes to %q, %v; want %q", got, err, body)
	}
	if j.Content.Type != "image/png" {
		t.Errorf("type = %q", j.Content.Type)
	}
}

func TestParseMediaTypeLowerCase(t *testing.T) {
	in := "Content-Type: Message/CPIM\r\n\r\nFrom: <im:a@example.com>\r\n\r\nContent-Type: Text/Plain; charset=UTF-8\r\n\r\nhi"
	j := parseJSON(t, in)
	if j.Content.Type != "text/plain" || j.From.URI != "im:a@example.com" || j.Content.Body != "hi" {
		t.Errorf("type %q from %+v body %q", j.Content.Type, j.From, j.Content.Body)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		in      string
		wantErr string
	}{
		{"line without colon", nil, "From: <im:a@example.com>\r\nnonsense\r\n\r\nContent-Type: text/plain\r\n\r\n", "cpimtool: line 2: "},
		{"folded header", nil, "From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\n  <im:c@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\n", "cpimtool: line 3: "},
		{"bad From in MIME entity", nil, "Content-Type: message/cpim\r\n\r\nFrom: im:a@example.com\r\n\r\nContent-Type: text/plain\r\n\r\n", "cpimtool: line 3: "},
		// The RFC 5438 §7.2.1.1 figure lacks the blank line after the
		// CPIM headers, so its XML declaration is read as a header.
		{"RFC 5438 figure, strict", []string{"testdata/rfc5438-s7.2.1.1-delivery-notification.as-printed.crlf.txt"}, "", "cpimtool: line 9: "},
		{"missing file", []string{"testdata/no-such-file"}, "", "cpimtool: open testdata/no-such-file: "},
		{"two files", []string{"a", "b"}, "", "cpimtool parse: at most one FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, errOut := runTool(t, tt.in, append([]string{"parse"}, tt.args...)...)
			wantStatus := exitFail
			if strings.HasPrefix(tt.wantErr, "cpimtool parse:") {
				wantStatus = exitUsage
			}
			if status != wantStatus || out != "" || !strings.HasPrefix(errOut, tt.wantErr) {
				t.Errorf("status %d, stdout %q, stderr %q; want %d, nothing, %q...", status, out, errOut, wantStatus, tt.wantErr)
			}
		})
	}
}

func TestParseLenientRFC5438Figure(t *testing.T) {
	j := parseJSON(t, "", "--lenient", "testdata/rfc5438-s7.2.1.1-delivery-notification.as-printed.crlf.txt")
	if h := header(t, j, "imdn", "Message-ID"); h.NS != "urn:ietf:params:imdn" || h.Value != "d834jied93rf" {
		t.Errorf("imdn.Message-ID = %+v", h)
	}
	if j.Content.Type != "message/imdn+xml" || !strings.Contains(j.Content.Body, "<delivered/>") {
		t.Errorf("content type %q body %q", j.Content.Type, j.Content.Body)
	}
}

func TestIsMIMEEntity(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"Content-Type: message/cpim\r\n\r\n", true},
		{"Content-type: Message/CPIM\r\n\r\n", true},
		{"content-type:message/cpim\n", true},
		{"Content-Type: text/plain\r\n\r\n", false},
		{"From: <im:a@example.com>\r\n", false},
		{"Content-Type: message/cpimx\r\n", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isMIMEEntity([]byte(tt.in)); got != tt.want {
			t.Errorf("isMIMEEntity(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
