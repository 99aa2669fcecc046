package cpim

import (
	"reflect"
	"testing"
)

func TestValidLangTag(t *testing.T) {
	for tag, ok := range map[string]bool{
		"fr": true, "en-US": true, "i-default": true, "zh-Hant-TW": true, "x-klingon": true, "sgn-BE-fr": true, "de-1996": true,
		"": false, "-fr": false, "fr-": false, "fr--CA": false, "abcdefghi": false, "en-abcdefghi": false, "1en": false, "fr_FR": false, "fr CA": false,
	} {
		if got := validLangTag(tag); got != ok {
			t.Errorf("validLangTag(%q) = %v", tag, got)
		}
	}
}

func TestSplitHeaderName(t *testing.T) {
	tests := []struct {
		in, prefix, name string
		ok               bool
	}{
		{"From", "", "From", true},
		{"MyFeatures.VitalMessageOption", "MyFeatures", "VitalMessageOption", true},
		{"a.b.c", "", "", false},
		{".x", "", "", false},
		{"x.", "x", "", false},
		{"", "", "", false},
		{"a b", "", "a b", false},
	}
	for _, tt := range tests {
		p, n, ok := splitHeaderName(tt.in)
		if ok != tt.ok || ok && (p != tt.prefix || n != tt.name) {
			t.Errorf("splitHeaderName(%q) = %q, %q, %v", tt.in, p, n, ok)
		}
	}
}

func TestParseNS(t *testing.T) {
	tests := []struct {
		in      string
		strict  *Namespace
		lenient *Namespace
	}{
		{"MyFeatures <mid:MessageFeatures@id.foo.com>", &Namespace{"MyFeatures", "mid:MessageFeatures@id.foo.com"}, &Namespace{"MyFeatures", "mid:MessageFeatures@id.foo.com"}},
		{"imdn<urn:ietf:params:imdn>", &Namespace{"imdn", "urn:ietf:params:imdn"}, &Namespace{"imdn", "urn:ietf:params:imdn"}},
		{"<http://id.acme.widgets/wily-headers/>", &Namespace{"", "http://id.acme.widgets/wily-headers/"}, &Namespace{"", "http://id.acme.widgets/wily-headers/"}},
		{" imdn  < urn:ietf:params:imdn > ", nil, &Namespace{"imdn", "urn:ietf:params:imdn"}},
		{"imdn <urn:x#frag>", nil, nil},
		{"imdn <relative/path>", nil, nil},
		{"imdn urn:ietf:params:imdn", nil, nil},
		{"a.b <urn:x>", nil, nil},
		{"", nil, nil},
	}
	for _, tt := range tests {
		for _, lenient := range []bool{false, true} {
			want := tt.strict
			if lenient {
				want = tt.lenient
			}
			got, msg := parseNS(tt.in, lenient)
			if (msg == "") != (want != nil) || want != nil && got != *want {
				t.Errorf("parseNS(%q, lenient=%v) = %+v, %q", tt.in, lenient, got, msg)
			}
		}
	}
}

func TestRequireNames(t *testing.T) {
	tests := []struct {
		in        string
		lenient   bool
		names     []string
		canonical bool
		err       bool
	}{
		{"a.B", false, []string{"a.B"}, true, false},
		{"a.B,c.D,From", false, []string{"a.B", "c.D", "From"}, true, false},
		{"a.B, c.D", false, nil, false, true},
		{"a.B, c.D", true, []string{"a.B", "c.D"}, false, false},
		{"a.B,,", true, []string{"a.B"}, false, false},
		{"", true, nil, false, false},
		{"", false, nil, false, true},
		{"a.b.c", true, nil, false, true},
	}
	for _, tt := range tests {
		var names []string
		canonical, msg := requireNames(tt.in, tt.lenient, func(n string) { names = append(names, n) })
		if (msg != "") != tt.err || !tt.err && (canonical != tt.canonical || !reflect.DeepEqual(names, tt.names)) {
			t.Errorf("requireNames(%q, %v) = %q, %v, %q", tt.in, tt.lenient, names, canonical, msg)
		}
	}
}
