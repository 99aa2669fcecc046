package cpim

import "testing"

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{`back\slash`, `back\\slash`},
		{"tab\there", `tab\there`},
		{"a\r\nb", `a\r\nb`},
		{"\b", `\b`},
		{"\x00\x1b\x7f", `\u0000\u001b\u007f`},
		{`say "hi" 'there'`, `say "hi" 'there'`}, // §2.3.1: quotes only inside strings
		{"héllo 日本 😀", "héllo 日本 😀"},             // never \u for non-controls
		{"bad \xff utf8", "bad \uFFFD utf8"},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"no escapes", "no escapes"},
		{`\\ \" \' \b \t \n \r`, "\\ \" ' \b \t \n \r"},
		{`\u0041\u00e9\u00E9`, "Aéé"},
		{`\u0000`, "\x00"},
		{`\uD83D\uDE00`, "😀"},            // surrogate pair combined
		{`\uD83Dx`, "\uFFFDx"},           // lone high surrogate
		{`\uDE00\uD83D`, "\uFFFD\uFFFD"}, // reversed pair
		{`\q`, "q"},                      // unknown escape: the character itself
		{`end\`, "end"},                  // trailing lone backslash ignored
		{`\u12`, "u12"},                  // too few hex digits
		{`\u12g4`, "u12g4"},
	}
	for _, tt := range tests {
		if got := Unescape(tt.in); got != tt.want {
			t.Errorf("Unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "x", "a\\b\tc\nd\re\x00f\x7f", "\"'", "ünïcode\x01"} {
		if got := Unescape(Escape(s)); got != s {
			t.Errorf("Unescape(Escape(%q)) = %q", s, got)
		}
		if msg := checkEscapes(Escape(s)); msg != "" {
			t.Errorf("Escape(%q) breaks §2.3.1: %s", s, msg)
		}
	}
}

func TestCheckEscapes(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`plain`, true},
		{`\\ \" \' \b \t \n \r \u0000 \u001F \u007f`, true},
		{`\u0041`, false}, // a non-control must not be escaped
		{`\u00e9`, false},
		{`\u0009`, false}, // TAB must use \t
		{`\u000a`, false},
		{`\q`, false},
		{`x\`, false},
		{`\u00`, false},
	}
	for _, tt := range tests {
		if got := checkEscapes(tt.in) == ""; got != tt.ok {
			t.Errorf("checkEscapes(%q) ok = %v, want %v", tt.in, got, tt.ok)
		}
	}
}
