package cpim

import (
	"reflect"
	"testing"
)

func TestContentGet(t *testing.T) {
	c := Content{Header: []Field{
		{"Content-type", "Text/Plain ; charset = \"UTF-8\""},
		{"X-Folded", "a\r\n  b\r\n\tc "},
		{"content-ID", "<1@x>"},
		{"Content-ID", "<2@x>"},
	}}
	tests := []struct{ name, want string }{
		{"Content-Type", "Text/Plain ; charset = \"UTF-8\""},
		{"CONTENT-TYPE", "Text/Plain ; charset = \"UTF-8\""},
		{"x-folded", "a  b\tc"},
		{"Content-ID", "<1@x>"},
		{"Missing", ""},
	}
	for _, tt := range tests {
		if got := c.Get(tt.name); got != tt.want {
			t.Errorf("Get(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := c.Type(); got != "text/plain" {
		t.Errorf("Type() = %q", got)
	}
	if got := c.TypeParams(); !reflect.DeepEqual(got, map[string]string{"charset": "UTF-8"}) {
		t.Errorf("TypeParams() = %v", got)
	}
}

func TestContentType(t *testing.T) {
	tests := []struct {
		value, typ string
		params     map[string]string
	}{
		{"text/plain", "text/plain", nil},
		{"message/imdn+xml", "message/imdn+xml", nil},
		{"multipart/mixed;\r\n boundary=\"imdn-boundary\"", "multipart/mixed", map[string]string{"boundary": "imdn-boundary"}},
		{"text/plain;charset=UTF-8", "text/plain", map[string]string{"charset": "UTF-8"}},
		{"text", "", nil},
		{"text/", "", nil},
		{"/plain", "", nil},
		{"te xt/plain", "", nil},
		{"text/plain; charset", "text/plain", nil},
		{"", "", nil},
	}
	for _, tt := range tests {
		c := Content{Header: []Field{{"Content-Type", tt.value}}}
		if got := c.Type(); got != tt.typ {
			t.Errorf("Type(%q) = %q, want %q", tt.value, got, tt.typ)
		}
		if got := c.TypeParams(); !reflect.DeepEqual(got, tt.params) {
			t.Errorf("TypeParams(%q) = %v, want %v", tt.value, got, tt.params)
		}
	}
	var none Content
	if none.Type() != "" || none.TypeParams() != nil {
		t.Error("empty content has a type")
	}
}

func TestContentSet(t *testing.T) {
	c := Content{Header: []Field{{"Content-Type", "text/plain"}, {"X", "1"}, {"content-type", "dup"}}}
	c.Set("CONTENT-TYPE", "text/html\r\n; charset=utf-8")
	c.Set("Content-Disposition", "notification")
	want := []Field{{"Content-Type", "text/html  ; charset=utf-8"}, {"X", "1"}, {"Content-Disposition", "notification"}}
	if !reflect.DeepEqual(c.Header, want) {
		t.Errorf("Header = %q", c.Header)
	}
}

func TestAppendField(t *testing.T) {
	tests := []struct {
		f    Field
		want string
	}{
		{Field{"A", "b"}, "A: b\r\n"},
		{Field{"A", ""}, "A: \r\n"},
		{Field{"A", "x;\r\n boundary=y"}, "A: x;\r\n boundary=y\r\n"},
		{Field{"A", "x;\n\tb"}, "A: x;\r\n\tb\r\n"},
		{Field{"A", "x\ny"}, "A: x\r\n y\r\n"},
		{Field{"A", "x\r\n"}, "A: x\r\n"},
		{Field{"A", "x\x00y\x7f"}, "A: x y \r\n"},
		{Field{"B a:d\x80", "v"}, "B-a-d-: v\r\n"},
	}
	for _, tt := range tests {
		if got := string(appendField(nil, &tt.f)); got != tt.want {
			t.Errorf("appendField(%q) = %q, want %q", tt.f, got, tt.want)
		}
	}
}
