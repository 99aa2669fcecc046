package cpim

import "testing"

func TestParseAddress(t *testing.T) {
	const u = "im:pooh@100akerwood.com"
	tests := []struct {
		in      string
		strict  *Address // nil: strict rejects
		lenient *Address // nil: lenient rejects
	}{
		{"<" + u + ">", &Address{"", u}, &Address{"", u}},
		{"Winnie the Pooh <" + u + ">", &Address{"Winnie the Pooh", u}, &Address{"Winnie the Pooh", u}},
		{`"MR SANDERS"<` + u + ">", &Address{"MR SANDERS", u}, &Address{"MR SANDERS", u}},
		{`"Smith, John"<` + u + ">", &Address{"Smith, John", u}, &Address{"Smith, John", u}},
		{`"say \"hi\"\n"<` + u + ">", &Address{"say \"hi\"\n", u}, &Address{"say \"hi\"\n", u}},
		{"Iñaki Baz Castillo <sip:ibc@example.net>", &Address{"Iñaki Baz Castillo", "sip:ibc@example.net"}, &Address{"Iñaki Baz Castillo", "sip:ibc@example.net"}},
		{"J.R.R. O'Tolkien <" + u + ">", &Address{"J.R.R. O'Tolkien", u}, &Address{"J.R.R. O'Tolkien", u}},
		{"<sip:+33612345678@127.0.0.1:12012;fid=1;transport=tcp>", &Address{"", "sip:+33612345678@127.0.0.1:12012;fid=1;transport=tcp"}, &Address{"", "sip:+33612345678@127.0.0.1:12012;fid=1;transport=tcp"}},
		{"<tel:+33612345678?Accept-Contact=%2Bsip.instance%3D1>", &Address{"", "tel:+33612345678?Accept-Contact=%2Bsip.instance%3D1"}, &Address{"", "tel:+33612345678?Accept-Contact=%2Bsip.instance%3D1"}},
		{"<im:tigger>", &Address{"", "im:tigger"}, &Address{"", "im:tigger"}}, // absolute URI; im: checks are ParseURI's
		// T-12: forms peers send that the grammar does not allow.
		{`"Pooh" <` + u + ">", nil, &Address{"Pooh", u}},
		{"Pooh<" + u + ">", nil, &Address{"Pooh", u}},
		{"Pooh  Bear <" + u + ">", nil, &Address{"Pooh  Bear", u}},
		{"Smith, John <" + u + ">", nil, &Address{"Smith, John", u}},
		{" <" + u + "> ", nil, &Address{"", u}},
		{"< " + u + " >", nil, &Address{"", u}},
		{u, nil, &Address{"", u}},
		{`"\u0041"<` + u + ">", nil, &Address{"A", u}},
		// Rejected in both modes (T-14).
		{"<2065551212>", nil, nil},
		{"<>", nil, nil},
		{"<" + u, nil, nil},
		{"<" + u + "> trailing", nil, nil},
		{"Bob", nil, nil},
		{"", nil, nil},
		{`"unterminated <` + u + ">", nil, nil},
		{"<im:a b@example.com>", nil, nil},
		{"<im:a@b.com#frag>", nil, nil},
		// Leniently accepted URIs are repaired by percent-encoding.
		{"<im:a%zz@b.com>", nil, &Address{"", "im:a%25zz@b.com"}},
		{"<sip:jürgen@example.com>", nil, &Address{"", "sip:j%C3%BCrgen@example.com"}},
		{"sip:a{b}@x", nil, &Address{"", "sip:a%7Bb%7D@x"}},
		{"\"ctl\x01\"<" + u + ">", nil, nil},
	}
	for _, tt := range tests {
		for _, lenient := range []bool{false, true} {
			want := tt.strict
			if lenient {
				want = tt.lenient
			}
			got, msg := parseAddress(tt.in, lenient)
			switch {
			case want == nil && msg == "":
				t.Errorf("parseAddress(%q, lenient=%v) = %+v, want error", tt.in, lenient, got)
			case want != nil && msg != "":
				t.Errorf("parseAddress(%q, lenient=%v): %s", tt.in, lenient, msg)
			case want != nil && got != *want:
				t.Errorf("parseAddress(%q, lenient=%v) = %+v, want %+v", tt.in, lenient, got, *want)
			}
		}
	}
	if _, err := ParseAddress(`"Pooh" <` + u + ">"); err == nil {
		t.Error("ParseAddress is not strict")
	}
}

func TestAddressString(t *testing.T) {
	const u = "im:a@example.com"
	tests := []struct {
		a    Address
		want string
	}{
		{Address{"", u}, "<" + u + ">"},
		{Address{"Winnie the Pooh", u}, "Winnie the Pooh <" + u + ">"},
		{Address{"Iñaki", u}, "Iñaki <" + u + ">"},
		{Address{"Smith, John", u}, `"Smith, John"<` + u + ">"},
		{Address{`say "hi"`, u}, `"say \"hi\""<` + u + ">"},
		{Address{`back\slash`, u}, `"back\\slash"<` + u + ">"},
		{Address{"two  spaces", u}, `"two  spaces"<` + u + ">"},
		{Address{" lead", u}, `" lead"<` + u + ">"},
		{Address{"line\nbreak", u}, `"line\nbreak"<` + u + ">"},
		{Address{"alice (work)", u}, `"alice (work)"<` + u + ">"},
		{Address{"x", "im:evil>\r\nFrom: <im:x@y>"}, `x <im:evil>\r\nFrom: <im:x@y>>`},
	}
	for _, tt := range tests {
		got := tt.a.String()
		if got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.a, got, tt.want)
		}
		if tt.a.URI != u {
			continue
		}
		back, err := ParseAddress(got)
		if err != nil || back != tt.a {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %+v", got, back, err, tt.a)
		}
	}
}
