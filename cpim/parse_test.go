package cpim

import (
	"bytes"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestHeaderLines runs single message header lines through both modes.
// strict/lenient: "" = accepted, else a substring of the error. want is
// the header the line yields (in the mode(s) that accept it; lenient
// gives the repaired form).
func TestHeaderLines(t *testing.T) {
	acme := "http://id.acme.widgets/wily-headers/"
	tests := []struct {
		name, line      string
		strict, lenient string
		want            *Header // strict result; also lenient unless wantLenient
		wantLenient     *Header
	}{
		// T-07 exactly one SP after the colon.
		{name: "one SP", line: "X-Foo: bar", want: &Header{Name: "X-Foo", NS: cp, Value: "bar"}},
		{name: "no SP", line: "From:<im:a@b.c>", strict: "want exactly one SP",
			wantLenient: &Header{Name: "From", NS: cp, Value: "<im:a@b.c>"}},
		{name: "two SP", line: "From:  <im:a@b.c>", strict: "more than one SP",
			wantLenient: &Header{Name: "From", NS: cp, Value: "<im:a@b.c>"}},
		{name: "tab", line: "X-Foo:\tbar", strict: "want exactly one SP",
			wantLenient: &Header{Name: "X-Foo", NS: cp, Value: "bar"}},
		{name: "space before colon", line: "X-Foo : bar", strict: "invalid character ' ' in header name",
			wantLenient: &Header{Name: "X-Foo", NS: cp, Value: "bar"}},
		// T-08 empty values and trailing whitespace.
		{name: "empty value", line: "X-Foo: ", want: &Header{Name: "X-Foo", NS: cp}},
		{name: "empty no SP", line: "X-Foo:", strict: "no SP after the colon",
			wantLenient: &Header{Name: "X-Foo", NS: cp}},
		{name: "subject empty", line: "Subject:;lang=fr ", want: &Header{Name: "Subject", NS: cp, Params: []Param{{"lang", "fr"}}}},
		{name: "trailing SP", line: "X-Foo: bar ", strict: "whitespace at end of line",
			wantLenient: &Header{Name: "X-Foo", NS: cp, Value: "bar"}},
		{name: "leading SP", line: " X-Foo: bar", strict: "starts with whitespace", lenient: "starts with whitespace"},
		// T-09 parameters.
		{name: "params", line: "Test:;aaa=bbb;yes=no CheckMe",
			want: &Header{Name: "Test", NS: cp, Params: []Param{{"aaa", "bbb"}, {"yes", "no"}}, Value: "CheckMe"}},
		{name: "string param", line: `Test:;x="a \"b\"";n=42 v`,
			want: &Header{Name: "Test", NS: cp, Params: []Param{{"x", `"a \"b\""`}, {"n", "42"}}, Value: "v"}},
		{name: "params before colon", line: "Subject;lang=fr: Bonjour", strict: "invalid character ';'",
			wantLenient: &Header{Name: "Subject", NS: cp, Params: []Param{{"lang", "fr"}}, Value: "Bonjour"}},
		{name: "subject other param", line: "Subject:;foo=bar x", strict: "only a lang parameter",
			wantLenient: &Header{Name: "Subject", NS: cp, Value: "x"}},
		{name: "subject two langs", line: "Subject:;lang=fr;lang=en x", strict: "only a lang parameter",
			wantLenient: &Header{Name: "Subject", NS: cp, Params: []Param{{"lang", "en"}}, Value: "x"}},
		{name: "subject bad tag", line: "Subject:;lang=toolongtag x", strict: "only a lang parameter",
			wantLenient: &Header{Name: "Subject", NS: cp, Value: "x"}},
		{name: "from with param", line: "From:;x=y <im:a@b.c>", strict: "From header takes no parameters",
			wantLenient: &Header{Name: "From", NS: cp, Value: "<im:a@b.c>"}},
		{name: "bad param", line: "X:;=y v", strict: "malformed parameter name", lenient: "malformed parameter name"},
		{name: "param no value", line: "X:;a= v", strict: "empty value", lenient: "empty value"},
		// T-10 case of names.
		{name: "lower from", line: "from: <im:a@b.c>", want: &Header{Name: "from", NS: cp, Value: "<im:a@b.c>"},
			wantLenient: &Header{Name: "From", NS: cp, Value: "<im:a@b.c>"}},
		{name: "Cc", line: "Cc: <im:a@b.c>", want: &Header{Name: "Cc", NS: cp, Value: "<im:a@b.c>"},
			wantLenient: &Header{Name: "cc", NS: cp, Value: "<im:a@b.c>"}},
		// T-11 name characters.
		{name: "odd name chars", line: "_^`|~!#$%&'*+-: x", want: &Header{Name: "_^`|~!#$%&'*+-", NS: cp, Value: "x"}},
		{name: "two dots", line: "a.b.c: x", strict: "more than one \".\"", lenient: "more than one"},
		{name: "slash", line: "tata/titi: x", strict: "invalid character '/'", lenient: "invalid character '/'"},
		{name: "space in name", line: "hey ho: x", strict: "invalid character ' '", lenient: "invalid character 'h'"},
		{name: "non-ASCII name", line: "héllo: x", strict: "invalid character", lenient: "invalid character"},
		{name: "empty after prefix", line: "acme.: x", strict: "empty header name", lenient: "empty header name"},
		{name: "no colon", line: "justtext", strict: "no colon", lenient: "no colon"},
		// Values: controls, UTF-8, escapes (T-24, T-27).
		{name: "raw tab", line: "X: a\tb", strict: "control character", lenient: "control character"},
		{name: "bad utf8", line: "X: \xff", strict: "not valid UTF-8", lenient: "not valid UTF-8"},
		{name: "utf8", line: "Subject: 日本語 😀", want: &Header{Name: "Subject", NS: cp, Value: "日本語 😀"}},
		{name: "escaped non-control", line: `X: caf\u00e9`, strict: "must not be escaped",
			wantLenient: &Header{Name: "X", NS: cp, Value: "café"}},
		{name: "escapes repaired", line: `X:;p="\u0022\q" \u0009\u005c\u0022\uD83D\uDE00\`, strict: "must not be escaped",
			wantLenient: &Header{Name: "X", NS: cp, Params: []Param{{"p", `"\"q"`}}, Value: `\t\\\"😀`}},
		{name: "subject escape repaired", line: `Subject: caf\u00e9\q`, strict: "must not be escaped",
			wantLenient: &Header{Name: "Subject", NS: cp, Value: "caféq"}},
		// NS (T-21).
		{name: "NS no SP", line: "NS: acme<" + acme + ">", want: &Header{Name: "NS", NS: cp, Value: "acme<" + acme + ">"}},
		{name: "NS fragment", line: "NS: a <http://x/#f>", strict: "fragment", lenient: "fragment"},
		{name: "NS relative", line: "NS: a </relative>", strict: "no scheme", lenient: "no scheme"},
		{name: "NS two SP", line: "NS: a  <http://x/>", strict: "not [prefix] <URI>",
			wantLenient: &Header{Name: "NS", NS: cp, Value: "a <http://x/>"}},
		// Require (T-22).
		{name: "require list", line: "Require: From,To", want: &Header{Name: "Require", NS: cp, Value: "From,To"}},
		{name: "require spaces", line: "Require: From, To", strict: "whitespace in Require",
			wantLenient: &Header{Name: "Require", NS: cp, Value: "From,To"}},
		{name: "require emoji", line: "Require: 😀", strict: "invalid header name", lenient: "invalid header name"},
		{name: "require empty", line: "Require: From,,To", strict: "empty name",
			wantLenient: &Header{Name: "Require", NS: cp, Value: "From,To"}},
		// Addresses and dates.
		{name: "quoted name SP", line: `To: "Pooh" <im:a@b.c>`, strict: "followed directly",
			wantLenient: &Header{Name: "To", NS: cp, Value: "Pooh <im:a@b.c>"}},
		{name: "bare uri", line: "To: im:a@b.c", strict: "malformed Formal-name",
			wantLenient: &Header{Name: "To", NS: cp, Value: "<im:a@b.c>"}},
		{name: "bad date", line: "DateTime: yesterday", strict: "not an RFC 3339", lenient: "not an RFC 3339"},
		{name: "date space", line: "DateTime: 2020-01-01 00:00:00Z", strict: "not an RFC 3339",
			wantLenient: &Header{Name: "DateTime", NS: cp, Value: "2020-01-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.line + "\r\n" + minimalContent)
			for _, lenient := range []bool{false, true} {
				wantErr, want := tt.strict, tt.want
				if lenient {
					wantErr = tt.lenient
					if tt.wantLenient != nil {
						want = tt.wantLenient
					}
				}
				m, err := (&Parser{Lenient: lenient}).Parse(in)
				if wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), wantErr) || !strings.HasPrefix(err.Error(), "line 1: ") {
						t.Errorf("lenient=%v: error %v, want line 1 and %q", lenient, err, wantErr)
					}
					continue
				}
				if err != nil {
					t.Errorf("lenient=%v: %v", lenient, err)
					continue
				}
				got := m.Headers[0]
				if len(got.Params) == 0 {
					got.Params = nil
				}
				if !reflect.DeepEqual(got, *want) {
					t.Errorf("lenient=%v: header %+v, want %+v", lenient, got, *want)
				}
				// Whatever was accepted is written back in strict form.
				if _, err := Parse(m.Bytes()); err != nil {
					t.Errorf("lenient=%v: output does not parse strictly: %v\n%q", lenient, err, m.Bytes())
				}
			}
		})
	}
}

func TestLineEnds(t *testing.T) {
	lf := "From: <im:a@b.c>\nTo: <im:d@e.f>\n\nContent-Type: text/plain\n\nline1\nline2\n"
	_, err := Parse([]byte(lf))
	if err == nil || err.Error() != "line 1: line terminated by LF without CR (RFC 3862 §2.2 requires CRLF)" {
		t.Errorf("strict LF error = %v", err)
	}
	m, err := (&Parser{Lenient: true}).Parse([]byte(lf))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Content.Body) != "line1\nline2\n" {
		t.Errorf("body line ends changed: %q", m.Content.Body)
	}
	want := "From: <im:a@b.c>\r\nTo: <im:d@e.f>\r\n\r\nContent-Type: text/plain\r\n\r\nline1\nline2\n"
	if got := string(m.Bytes()); got != want {
		t.Errorf("Bytes() = %q", got)
	}
	for _, in := range []string{
		"From: <im:a@b.c>\rTo: <im:d@e.f>\r\n\r\nContent-Type: text/plain\r\n\r\n",
		"From: <im:a@b.c>\r\n\r\nContent-Type: text/plain\rX: y\r\n\r\n",
	} {
		for _, lenient := range []bool{false, true} {
			if _, err := (&Parser{Lenient: lenient}).Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), "CR not followed by LF") {
				t.Errorf("bare CR (lenient=%v): %v", lenient, err)
			}
		}
	}
	for _, line := range []string{"X\r: v", "\rX: v", "a.\rb: v", "X:;p=\r v", "X:;p=\"\r\" v", "X: v\rw", "X: v\r"} {
		for _, lenient := range []bool{false, true} {
			_, err := (&Parser{Lenient: lenient}).Parse([]byte(line + "\r\n" + minimalContent))
			if err == nil || !strings.HasPrefix(err.Error(), "line 1: ") {
				t.Errorf("%q (lenient=%v): error %v", line, lenient, err)
			}
		}
	}
	// A bare CR in the body is body.
	m, err = Parse([]byte("From: <im:a@b.c>\r\n\r\nContent-Type: text/plain\r\n\r\na\rb"))
	if err != nil || string(m.Content.Body) != "a\rb" {
		t.Errorf("body with CR: %v %q", err, m.Content.Body)
	}
}

func TestContentSection(t *testing.T) {
	const hdrs = "From: <im:a@b.c>\r\n\r\n"
	tests := []struct {
		name, in        string
		strict, lenient string // error substrings
		body            []byte
		fields          []Field
	}{
		{name: "empty body", in: hdrs + "Content-Type: text/plain\r\n\r\n", body: []byte{}, fields: []Field{{"Content-Type", "text/plain"}}},
		{name: "whitespace body", in: hdrs + "Content-Type: text/plain\r\n\r\n   ", body: []byte("   "), fields: []Field{{"Content-Type", "text/plain"}}},
		{name: "no blank line", in: hdrs + "Content-Type: text/plain\r\n", fields: []Field{{"Content-Type", "text/plain"}}},
		{name: "folded", in: hdrs + "Content-Type: multipart/mixed;\r\n\tboundary=x\r\nContent-ID: <a@b>\r\n\r\nbody",
			body: []byte("body"), fields: []Field{{"Content-Type", "multipart/mixed;\r\n\tboundary=x"}, {"Content-ID", "<a@b>"}}},
		{name: "no space after colon", in: hdrs + "Content-Type:text/plain\r\n\r\nx", body: []byte("x"), fields: []Field{{"Content-Type", "text/plain"}}},
		{name: "extra space", in: hdrs + "Content-Type:  text/plain\r\n\r\nx", body: []byte("x"), fields: []Field{{"Content-Type", " text/plain"}}},
		{name: "no content type", in: hdrs + "Content-ID: <a@b>\r\n\r\nx", strict: "line 3: encapsulated content has no Content-Type",
			body: []byte("x"), fields: []Field{{"Content-ID", "<a@b>"}}},
		{name: "no content", in: "From: <im:a@b.c>\r\n\r\n", strict: "line 3: encapsulated content has no Content-Type"},
		{name: "headers end at EOF", in: "From: <im:a@b.c>\r\n", strict: "line 1: message headers not followed by a blank line"},
		{name: "continuation first", in: hdrs + " folded\r\n\r\n", strict: "line 3: continuation line", lenient: "continuation line"},
		{name: "no colon", in: hdrs + "Content-Type text/plain\r\n\r\n", strict: "line 3: header line without colon", lenient: "without colon"},
		{name: "ctl", in: hdrs + "Content-Type: text/plain\x00\r\n\r\n", strict: "control character", lenient: "control character"},
		{name: "unterminated", in: hdrs + "Content-Type: text/plain", strict: "line 3: line not terminated by CRLF",
			fields: []Field{{"Content-Type", "text/plain"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, lenient := range []bool{false, true} {
				wantErr := tt.strict
				if lenient {
					wantErr = tt.lenient
				}
				m, err := (&Parser{Lenient: lenient}).Parse([]byte(tt.in))
				if wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), wantErr) {
						t.Errorf("lenient=%v: error %v, want %q", lenient, err, wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("lenient=%v: %v", lenient, err)
				}
				if !reflect.DeepEqual(m.Content.Body, tt.body) || !reflect.DeepEqual(m.Content.Header, tt.fields) {
					t.Errorf("lenient=%v: content %q %q, want %q %q", lenient, m.Content.Header, m.Content.Body, tt.fields, tt.body)
				}
			}
		})
	}
}

// TestRoundTripExact: a strictly valid input comes back octet for octet.
func TestRoundTripExact(t *testing.T) {
	for _, in := range []string{
		"From: <im:a@b.c>\r\n\r\nContent-Type: text/plain\r\n\r\n",
		"From: <im:a@b.c>\r\n\r\nContent-Type: text/plain\r\n",
		"\r\nContent-Type: text/plain\r\n\r\nno headers at all",
		"Subject:;lang=fr \r\nX: \r\n\r\nContent-Type: text/plain\r\nX-Folded: a\r\n  b\r\n\r\n\r\n\r\n",
		"DateTime: 1990-12-31T23:59:60Z\r\nDateTime2: x\r\n\r\nContent-Type: text/plain\r\n\r\n",
		"To: \"Smith, John\"<im:a@b.c>\r\nTo: <im:d@b.c>\r\ncc: A B <sip:x@y>\r\nRequire: a.B,From\r\nNS: a <http://a/>\r\n\r\nContent-Type: text/plain\r\n\r\n",
	} {
		m, err := Parse([]byte(in))
		if in == "DateTime: 1990-12-31T23:59:60Z\r\nDateTime2: x\r\n\r\nContent-Type: text/plain\r\n\r\n" && err != nil {
			t.Fatal(err)
		}
		if err != nil {
			// Require before its NS: only the lenient parser takes it.
			if m, err = (&Parser{Lenient: true}).Parse([]byte(in)); err != nil {
				t.Fatalf("%q: %v", in, err)
			}
		}
		if got := string(m.Bytes()); got != in {
			t.Errorf("round trip:\n got %q\nwant %q", got, in)
		}
	}
}

func TestRepeatedSingletons(t *testing.T) {
	in := "From: <im:a@b.c>\r\nFrom: <im:x@b.c>\r\nDateTime: 2020-01-01T00:00:00Z\r\nDateTime: 2021-01-01T00:00:00Z\r\n" + minimalContent
	if _, err := Parse([]byte(in)); err == nil || err.Error() != "line 2: repeated From header" {
		t.Errorf("strict error = %v", err)
	}
	m, err := (&Parser{Lenient: true}).Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.From.URI != "im:a@b.c" || !m.DateTime.Equal(mustTime("2020-01-01T00:00:00Z")) || len(m.Headers) != 4 {
		t.Errorf("From %v DateTime %v, %d headers", m.From, m.DateTime, len(m.Headers))
	}
	if got := string(m.Bytes()); got != in {
		t.Errorf("repeats not kept: %q", got)
	}
	if got := m.Values(cp, "From"); !reflect.DeepEqual(got, []string{"<im:a@b.c>", "<im:x@b.c>"}) {
		t.Errorf("Values(From) = %q", got)
	}
}

func TestNamespaceRebinding(t *testing.T) {
	in := "NS: p <a:x>\r\np.H: 1\r\nNS: p <b:y>\r\np.H: 2\r\n" + minimalContent
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.Headers[1].NS != "a:x" || m.Headers[3].NS != "b:y" {
		t.Errorf("headers %+v", m.Headers)
	}
	if v, _ := m.Get("b:y", "H"); v != "2" {
		t.Errorf("Get = %q", v)
	}
}

func TestLimits(t *testing.T) {
	long := "X: " + strings.Repeat("a", defaultMaxLineLen-3) + "\r\n"
	if _, err := Parse([]byte(long + minimalContent)); err != nil {
		t.Errorf("line of exactly the limit: %v", err)
	}
	tooLong := "X: " + strings.Repeat("a", defaultMaxLineLen-2) + "\r\n"
	many := strings.Repeat("X: y\r\n", defaultMaxHeaders+1)
	bigBody := minimalContent + strings.Repeat("b", defaultMaxBody+1)
	manyFields := "\r\n" + strings.Repeat("X-A: b\r\n", defaultMaxHeaders+1) + "\r\n"
	tests := []struct {
		name, in string
		p        Parser
		line     int
	}{
		{"line", tooLong + minimalContent, Parser{}, 1},
		{"headers", many + minimalContent, Parser{}, 101},
		{"body", bigBody, Parser{}, 4},
		{"fields", manyFields, Parser{}, 102},
		{"small line", "X: 12345\r\n" + minimalContent, Parser{MaxLineLen: 7}, 1},
		{"small body", minimalContent + "12", Parser{MaxBody: 1}, 4},
		{"lenient", tooLong + minimalContent, Parser{Lenient: true}, 1},
	}
	for _, tt := range tests {
		_, err := tt.p.Parse([]byte(tt.in))
		var se *SyntaxError
		if !errors.Is(err, ErrTooLarge) || !errors.As(err, &se) || se.Line != tt.line {
			t.Errorf("%s: error %v, want ErrTooLarge at line %d", tt.name, err, tt.line)
		}
	}
	unlimited := Parser{MaxLineLen: -1, MaxHeaders: -1, MaxBody: -1}
	if _, err := unlimited.Parse([]byte(tooLong + many + bigBody)); err != nil {
		t.Errorf("negative limits: %v", err)
	}
	// Errors that are not about size do not claim to be.
	if _, err := Parse([]byte("bad line\r\n")); errors.Is(err, ErrTooLarge) {
		t.Error("syntax error wraps ErrTooLarge")
	}
}

func TestParseMIME(t *testing.T) {
	msg := "From: <im:a@b.c>\r\n\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
	b64 := base64.StdEncoding.EncodeToString([]byte(msg))
	tests := []struct {
		name, in        string
		strict, lenient string
	}{
		{name: "plain", in: "Content-Type: message/cpim\r\n\r\n" + msg},
		{name: "case and params", in: "content-type: Message/CPIM ; x=y\r\nMIME-Version: 1.0\r\n\r\n" + msg},
		{name: "binary", in: "Content-Type: message/cpim\r\nContent-Transfer-Encoding: binary\r\n\r\n" + msg},
		{name: "base64", in: "Content-Type: message/cpim\r\nContent-Transfer-Encoding: BASE64\r\n\r\n" + b64[:20] + "\r\n" + b64[20:] + "\r\n"},
		{name: "quoted-printable", in: "Content-Type: message/cpim\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nFrom: <im:a=40b.c>\r\n\r\nContent-Type: text/plain\r\n\r\nhel=\r\nlo\r\n"},
		{name: "bad base64", in: "Content-Type: message/cpim\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!", strict: "line 4: invalid base64", lenient: "invalid base64"},
		{name: "unknown cte", in: "Content-Type: message/cpim\r\nContent-Transfer-Encoding: x-foo\r\n\r\n" + msg, strict: "unknown Content-Transfer-Encoding", lenient: "unknown Content-Transfer-Encoding"},
		{name: "not cpim", in: "Content-Type: text/plain\r\n\r\n" + msg, strict: `not message/cpim`, lenient: "not message/cpim"},
		{name: "no content type", in: "MIME-Version: 1.0\r\n\r\n" + msg, strict: "no valid Content-Type", lenient: "no valid Content-Type"},
		{name: "bare body", in: msg, strict: "no valid Content-Type"},
		{name: "no blank line", in: "Content-Type: message/cpim\r\n", strict: "not followed by a blank line", lenient: "not followed by a blank line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, lenient := range []bool{false, true} {
				wantErr := tt.strict
				if lenient {
					wantErr = tt.lenient
				}
				m, err := (&Parser{Lenient: lenient}).ParseMIME([]byte(tt.in))
				if wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), wantErr) {
						t.Errorf("lenient=%v: error %v, want %q", lenient, err, wantErr)
					}
					continue
				}
				if err != nil {
					t.Fatalf("lenient=%v: %v", lenient, err)
				}
				if m.From.URI != "im:a@b.c" || string(m.Content.Body) != "hello\r\n" {
					t.Errorf("lenient=%v: From %v body %q", lenient, m.From, m.Content.Body)
				}
			}
		})
	}
	// A transfer-encoded entity inside another is content, not unwrapped
	// again (each level would cost a copy).
	inner := "Content-Type: message/cpim\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64
	outer := "Content-Type: message/cpim\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte(inner))
	if _, err := ParseMIME([]byte(outer)); err == nil {
		t.Error("strict: nested entity accepted as message")
	}
	m, err := (&Parser{Lenient: true}).ParseMIME([]byte(outer))
	if err != nil || len(m.Headers) != 0 || m.Content.Type() != "message/cpim" || string(m.Content.Body) != b64 {
		t.Errorf("lenient nested entity: %v %+v", err, m)
	}
	// Lenient Parse given a whole entity.
	m, err = (&Parser{Lenient: true}).Parse([]byte("Content-type: Message/CPIM\r\n\r\n" + msg))
	if err != nil || m.From.URI != "im:a@b.c" {
		t.Errorf("lenient Parse of an entity: %v", err)
	}
}

func TestSyntaxErrorLine(t *testing.T) {
	in := "From: <im:a@b.c>\r\nTo: <im:d@e.f>\r\nX: ok\r\nbad\r\n" + minimalContent
	_, err := Parse([]byte(in))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 4 || err.Error() != "line 4: header line has no colon" {
		t.Errorf("error = %#v", err)
	}
	full := "Content-Type: message/cpim\r\n\r\n" + in
	if _, err := ParseMIME([]byte(full)); !errors.As(err, &se) || se.Line != 6 {
		t.Errorf("ParseMIME error = %v, want line 6", err)
	}
}

func TestBodyIsACopy(t *testing.T) {
	in := []byte("From: <im:a@b.c>\r\n\r\nContent-Type: text/plain\r\n\r\nbody")
	m, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'x'
	}
	if m.From.URI != "im:a@b.c" || string(m.Content.Body) != "body" {
		t.Error("message aliases the input buffer")
	}
	m.Content.Body = append(m.Content.Body, "more"...)
	if !bytes.Equal(m.Content.Body, []byte("bodymore")) || m.Content.Get("Content-Type") != "text/plain" {
		t.Error("appending to Body disturbed the headers")
	}
}

// TestManyHeaders crosses the preallocated capacities of a parsed message.
func TestManyHeaders(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 40; i++ {
		b.WriteString("To: <im:a@x.org>\r\nSubject:;lang=fr;x=y v\r\n")
	}
	in := strings.ReplaceAll(b.String(), "Subject:;lang=fr;x=y", "X:;lang=fr;x=y") + "\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Type: a/b\r\n\r\n"
	m, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Headers) != 80 || len(m.To) != 40 || len(m.Content.Header) != 4 || len(m.Headers[79].Params) != 2 {
		t.Fatalf("%d headers, %d To, %d fields", len(m.Headers), len(m.To), len(m.Content.Header))
	}
	if string(m.Bytes()) != in {
		t.Error("not reproduced")
	}
	m.To[0].Name = "Changed"
	if m.To[1].Name != "" || m.Headers[1].Params[0].Value != "fr" {
		t.Error("slices share backing arrays")
	}
}
