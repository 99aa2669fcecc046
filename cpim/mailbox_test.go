package cpim

import "testing"

func TestMailbox(t *testing.T) {
	for _, tc := range []struct{ uri, user, domain string }{
		{"im:fred@example.com", "fred", "example.com"},
		{"pres:fred@Example.COM", "fred", "example.com"},
		{"im:pepp=example.com/fred@relay-domain", "pepp=example.com/fred", "relay-domain"},
		{"sip:bob@example.net", "bob", "example.net"},
		{"sips:bob@Example.net:5061;transport=tls?subject=x", "bob", "example.net"},
		{"sip:b%6Fb@example.net", "bob", "example.net"},
		{"xmpp:juliet@example.com/balcony", "juliet", "example.com"},
		{"xmpp://guest@example.com/support@example.com?message", "support", "example.com"},
	} {
		u, err := ParseURI(tc.uri)
		if err != nil {
			t.Fatalf("ParseURI(%q): %v", tc.uri, err)
		}
		user, domain, ok := u.Mailbox()
		if !ok || user != tc.user || domain != tc.domain {
			t.Errorf("Mailbox(%q) = %q, %q, %v; want %q, %q", tc.uri, user, domain, ok, tc.user, tc.domain)
		}
	}
	for _, uri := range []string{"tel:+15551234", "im:", "sip:example.net", "http://example.net/bob", "xmpp:example.com", "sip:@example.net"} {
		u, err := ParseURI(uri)
		if err != nil {
			continue
		}
		if user, domain, ok := u.Mailbox(); ok {
			t.Errorf("Mailbox(%q) = %q, %q; want none", uri, user, domain)
		}
	}
}
