package portal

import (
	"testing"

	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"
)

var addrs = Addresses{IMDomain: "im.example.org", ServerName: "hs.example.org"}

func TestLocalURIRoundTrip(t *testing.T) {
	for _, mxid := range []id.UserID{"@alice:hs.example.org", "@a.b_c=d/e+f-g:hs.example.org"} {
		uri, err := addrs.LocalURI(mxid)
		if err != nil {
			t.Fatalf("LocalURI(%s): %v", mxid, err)
		}
		back, err := addrs.LocalUser(uri)
		if err != nil || back != mxid {
			t.Errorf("LocalUser(%s) = %s, %v; want %s", uri, back, err, mxid)
		}
	}
	if uri, _ := addrs.LocalURI("@alice:hs.example.org"); uri != "im:alice@im.example.org" {
		t.Errorf("LocalURI = %s", uri)
	}
}

func TestLocalUserRefuses(t *testing.T) {
	for _, uri := range []string{
		"im:alice@elsewhere.example",    // not our domain
		"sip:alice@im.example.org",      // not an im: URI
		"im:Alice@im.example.org",       // upper case would alias @alice
		"im:@im.example.org",            // no local part
		"im:%22a%20b%22@im.example.org", // quoted local part with a space
		"not a uri",
	} {
		if mxid, err := addrs.LocalUser(uri); err == nil {
			t.Errorf("LocalUser(%q) = %s, want an error", uri, mxid)
		}
	}
	if _, err := addrs.LocalUser("im:alice@IM.Example.ORG"); err != nil {
		t.Errorf("domain case must not matter: %v", err)
	}
	if _, err := addrs.LocalURI("@alice:other.example"); err == nil {
		t.Error("a user of another homeserver got an im: address")
	}
}

func TestGhostID(t *testing.T) {
	for in, want := range map[string]networkid.UserID{
		"im:bob@example.net":             "bob@example.net",
		"im:bob@EXAMPLE.net":             "bob@example.net",
		"sip:bob@example.net":            "bob@example.net",
		"xmpp:bob@example.net":           "bob@example.net",
		"pres:bob@example.net":           "bob@example.net",
		"im:pepp=example.com/fred@relay": "pepp=example.com/fred@relay",
	} {
		got, err := GhostID(in)
		if err != nil || got != want {
			t.Errorf("GhostID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"tel:+15551234", "im:example.net", "http://example.net/bob", "im:"} {
		if got, err := GhostID(in); err == nil {
			t.Errorf("GhostID(%q) = %q, want an error", in, got)
		}
	}
	if id, err := ParseIdentifier("  bob@example.net "); err != nil || id != "bob@example.net" {
		t.Errorf("ParseIdentifier without scheme = %q, %v", id, err)
	}
	if GhostURI("bob@example.net") != "im:bob@example.net" || Domain("bob@example.net") != "example.net" {
		t.Error("GhostURI/Domain")
	}
}
