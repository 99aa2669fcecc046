package sipgw

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestSIPURIFor(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"im:alice@example.com", "sip:alice@example.com"},
		{"pres:alice@example.com", "sip:alice@example.com"},
		{"IM:alice@Example.com", "sip:alice@example.com"},
		{"sip:bob@gw.example.net", "sip:bob@gw.example.net"},
		{"sips:bob@gw.example.net", "sips:bob@gw.example.net"},
		{"sip:bob@GW.example.net:5070;transport=tcp?subject=x", "sip:bob@gw.example.net"},
		// Characters RFC 3261 does not allow in a user part are percent-encoded.
		{"im:%22first%20last%22@example.com", "sip:%22first%20last%22@example.com"},
		{"im:a+tag=x@example.com", "sip:a+tag=x@example.com"},
		{"xmpp:juliet@example.com/balcony", "sip:juliet@example.com"},
		{"tel:+15551234", ""},
		{"im:example.com", ""},
		{"mailto:alice@example.com", ""},
		{"not a uri", ""},
		{"sip:gw.example.net", ""},
	}
	for _, tt := range tests {
		u, err := sipURIFor(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("sipURIFor(%q) = %s, want an error", tt.in, u.String())
		case tt.want != "" && err != nil:
			t.Errorf("sipURIFor(%q): %v", tt.in, err)
		case tt.want != "" && u.String() != tt.want:
			t.Errorf("sipURIFor(%q) = %s, want %s", tt.in, u.String(), tt.want)
		}
	}
}

func TestIMURIFor(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"sip:alice@Example.COM", "im:alice@example.com"},
		{"sips:alice@example.com:5061;transport=tls", "im:alice@example.com"},
		{"sip:first%20last@example.com", "im:first%20last@example.com"},
		{"sip:example.com", ""},
		{"tel:+15551234", ""},
		{"sip:%zz@example.com", ""},
	}
	for _, tt := range tests {
		var u sip.Uri
		if err := sip.ParseUri(tt.in, &u); err != nil {
			t.Fatalf("ParseUri(%q): %v", tt.in, err)
		}
		got, err := imURIFor(&u)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("imURIFor(%s) = %s, want an error", tt.in, got)
		case tt.want != "" && err != nil:
			t.Errorf("imURIFor(%s): %v", tt.in, err)
		case got != tt.want:
			t.Errorf("imURIFor(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestDisplayNameQuoting(t *testing.T) {
	tests := []struct{ name, quoted string }{
		{"Alice", "Alice"},
		{`Alice "Al" Example`, `Alice \"Al\" Example`},
		{`back\slash`, `back\\slash`},
		{"two\r\nlines", "two  lines"},
		{"Zoë 李", "Zoë 李"},
	}
	for _, tt := range tests {
		q := quoteDisplayName(tt.name)
		if q != tt.quoted {
			t.Errorf("quoteDisplayName(%q) = %q, want %q", tt.name, q, tt.quoted)
		}
		// What sipgo parses out of the quotes comes back through unquoteDisplayName.
		h := "From: \"" + q + "\" <sip:a@example.com>;tag=1"
		msg, err := sip.ParseMessage([]byte("MESSAGE sip:b@example.com SIP/2.0\r\n" + h + "\r\nContent-Length: 0\r\n\r\n"))
		if err != nil {
			t.Fatalf("parse %q: %v", h, err)
		}
		got := unquoteDisplayName(msg.(*sip.Request).From().DisplayName)
		want := tt.name
		if tt.name == "two\r\nlines" {
			want = "two  lines"
		}
		if got != want {
			t.Errorf("round trip of %q gave %q, want %q", tt.name, got, want)
		}
	}
}
