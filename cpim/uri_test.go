package cpim

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		in      string
		want    URI
		str     string // String(); "" = in
		address string
	}{
		// RFC 3860 §3.2 and App. B.2 (source route in the local part).
		{in: "im:fred@example.com", want: URI{Scheme: "im", User: "fred", Domain: "example.com"}, address: "fred@example.com"},
		{in: "im:pepp=example.com/fred@relay-domain", want: URI{Scheme: "im", User: "pepp=example.com/fred", Domain: "relay-domain"}, address: "pepp=example.com/fred@relay-domain"},
		{in: "im:", want: URI{Scheme: "im"}},
		{in: "im:?subject=hi", want: URI{Scheme: "im", Headers: []Param{{"subject", "hi"}}}},
		// Normalization: scheme and domain case, percent-encoding.
		{in: "IM:Fred@Example.COM", want: URI{Scheme: "im", User: "Fred", Domain: "example.com"}, str: "im:Fred@example.com", address: "Fred@example.com"},
		{in: "im:%66r%65d@example.com", want: URI{Scheme: "im", User: "fred", Domain: "example.com"}, str: "im:fred@example.com", address: "fred@example.com"},
		{in: "im:fr%c3%a9d@example.com", want: URI{Scheme: "im", User: "fréd", Domain: "example.com"}, str: "im:fr%C3%A9d@example.com", address: "fréd@example.com"},
		{in: "im:a%2Bb@x.org", want: URI{Scheme: "im", User: "a+b", Domain: "x.org"}, str: "im:a+b@x.org", address: "a+b@x.org"},
		{in: "im:%22john%20doe%22@x.org", want: URI{Scheme: "im", User: `"john doe"`, Domain: "x.org"}, address: `"john doe"@x.org`},
		{in: "im:%22a@b%22@x.org", want: URI{Scheme: "im", User: `"a@b"`, Domain: "x.org"}, str: "im:%22a%40b%22@x.org", address: `"a@b"@x.org`},
		{in: "im:a{b}@x.org", want: URI{}, str: "!"}, // "{" is atext but not a URI character
		{in: "im:a%7Bb%7D@x.org", want: URI{Scheme: "im", User: "a{b}", Domain: "x.org"}, address: "a{b}@x.org"},
		{in: "im:a@[192.0.2.1]", want: URI{Scheme: "im", User: "a", Domain: "[192.0.2.1]"}, address: "a@[192.0.2.1]"},
		{in: "im:a@xn--bcher-kva.example", want: URI{Scheme: "im", User: "a", Domain: "xn--bcher-kva.example"}, address: "a@xn--bcher-kva.example"},
		{in: "im:a@b%C3%BCcher.example", want: URI{Scheme: "im", User: "a", Domain: "bücher.example"}, address: "a@bücher.example"},
		{in: "im:fred@example.com?subject=hi%20there&body=a%26b%3Dc", want: URI{Scheme: "im", User: "fred", Domain: "example.com",
			Headers: []Param{{"subject", "hi there"}, {"body", "a&b=c"}}}, address: "fred@example.com"},
		{in: "pres:fred@Example.com", want: URI{Scheme: "pres", User: "fred", Domain: "example.com"}, str: "pres:fred@example.com", address: "fred@example.com"},
		// Other schemes are opaque.
		{in: "sip:alice@example.com;transport=tcp", want: URI{Scheme: "sip", Opaque: "alice@example.com;transport=tcp"}},
		{in: "SIPS:Alice@Example.com", want: URI{Scheme: "sips", Opaque: "Alice@Example.com"}, str: "sips:Alice@Example.com"},
		{in: "tel:+1-201-555-0123", want: URI{Scheme: "tel", Opaque: "+1-201-555-0123"}},
		{in: "xmpp:juliet@example.com/balcony", want: URI{Scheme: "xmpp", Opaque: "juliet@example.com/balcony"}},
		{in: "sip:%7ealice%2f@x", want: URI{Scheme: "sip", Opaque: "~alice%2F@x"}, str: "sip:~alice%2F@x"},
		{in: "mid:MessageFeatures@id.foo.com", want: URI{Scheme: "mid", Opaque: "MessageFeatures@id.foo.com"}},
	}
	for _, tt := range tests {
		u, err := ParseURI(tt.in)
		if tt.str == "!" {
			if err == nil {
				t.Errorf("ParseURI(%q) accepted", tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(*u, tt.want) {
			t.Errorf("ParseURI(%q) = %+v, want %+v", tt.in, *u, tt.want)
		}
		str := tt.str
		if str == "" {
			str = tt.in
		}
		if got := u.String(); got != str {
			t.Errorf("ParseURI(%q).String() = %q, want %q", tt.in, got, str)
		}
		if got := u.Address(); got != tt.address {
			t.Errorf("ParseURI(%q).Address() = %q, want %q", tt.in, got, tt.address)
		}
		// String is a fixed point.
		if u2, err := ParseURI(u.String()); err != nil || !reflect.DeepEqual(u2, u) {
			t.Errorf("ParseURI(%q) = %+v, %v; want %+v", u.String(), u2, err, u)
		}
	}
}

func TestParseURIInvalid(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"", "no scheme"},
		{"fred@example.com", "no scheme"},
		{"1im:a@b", "no scheme"},
		{"im:tigger", `no "@domain"`},
		{"im:@example.com", "invalid local-part"},
		{"im:a..b@x.org", "invalid local-part"},
		{"im:a.@x.org", "invalid local-part"},
		{"im:a%20b@x.org", "invalid local-part"},
		{"im:a@", "invalid domain"},
		{"im:a@-x.org", "invalid domain"},
		{"im:a@x..org", "invalid domain"},
		{"im:a@x_y.org", "invalid domain"},
		{"im:a@" + strings.Repeat("a", 64) + ".org", "invalid domain"},
		{"im:a b@x.org", "invalid character"},
		{"im:a@x.org#frag", "fragment"},
		{"im:a%2@x.org", "percent-encoding"},
		{"im:a%zz@x.org", "percent-encoding"},
		{"im:%FF@x.org", "not percent-encoded UTF-8"},
		{"im:a@x.org?novalue", `has no "="`},
		{"im:a@x.org?", `has no "="`},
		{"im:fréd@x.org", "invalid character"},
		{"sip:", "nothing after the scheme"},
		{"sip:a b", "invalid character"},
		{"sip:a<b>", "invalid character"},
		{"tel:+1#2", "fragment"},
	}
	for _, tt := range tests {
		_, err := ParseURI(tt.in)
		var ue *URIError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseURI(%q) error = %v, want %q", tt.in, err, tt.msg)
		}
	}
}
