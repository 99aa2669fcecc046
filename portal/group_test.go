package portal

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

func TestGroupIDRoundTrip(t *testing.T) {
	m := &cpim.Message{
		From: cpim.Address{URI: "sip:bob@example.net"},
		To:   []cpim.Address{{URI: "im:alice@hs.example"}},
		Cc:   []cpim.Address{{URI: "im:carol@Example.ORG"}, {URI: "im:dave@hs.example"}},
	}
	set, err := Participants(m)
	if err != nil {
		t.Fatal(err)
	}
	id, err := GroupID(set)
	if err != nil {
		t.Fatal(err)
	}
	if want := networkid.PortalID("group:alice@hs.example bob@example.net carol@example.org dave@hs.example"); id != want {
		t.Errorf("GroupID = %q, want %q", id, want)
	}
	got, ok := GroupMembers(id)
	if !ok || !slices.Equal(got, set) {
		t.Errorf("GroupMembers(%q) = %q, %v; want %q", id, got, ok, set)
	}
	if !IsGroup(id) {
		t.Errorf("IsGroup(%q) = false", id)
	}
}

func TestGroupIDRefuses(t *testing.T) {
	long := make([]networkid.UserID, 0, 100)
	for i := range 100 {
		long = append(long, networkid.UserID(strings.Repeat("x", 20)+string(rune('a'+i/26))+string(rune('a'+i%26))+"@example.net"))
	}
	slices.Sort(long)
	for _, tc := range []struct {
		name string
		set  []networkid.UserID
	}{
		{"dm", []networkid.UserID{"alice@hs.example", "bob@example.net"}},
		{"unsorted", []networkid.UserID{"bob@example.net", "alice@hs.example", "carol@example.org"}},
		{"duplicate", []networkid.UserID{"alice@hs.example", "bob@example.net", "bob@example.net"}},
		{"space in an address", []networkid.UserID{"alice@hs.example", "bob smith@example.net", "carol@example.org"}},
		{"too long", long},
	} {
		if id, err := GroupID(tc.set); err == nil {
			t.Errorf("%s: GroupID = %q, want an error", tc.name, id)
		}
	}
	if _, err := GroupID(long); !errors.Is(err, ErrGroupTooLarge) {
		t.Errorf("too long: err = %v, want ErrGroupTooLarge", err)
	}
}

func TestGroupMembersOfOtherIDs(t *testing.T) {
	for _, id := range []networkid.PortalID{"bob@example.net", "group:", ""} {
		if set, ok := GroupMembers(id); ok {
			t.Errorf("GroupMembers(%q) = %q, true; want false", id, set)
		}
		if IsGroup(id) {
			t.Errorf("IsGroup(%q) = true", id)
		}
	}
}

func TestRecipients(t *testing.T) {
	set := []networkid.UserID{"alice@hs.example", "bob@example.net", "carol@example.org", "dave@hs.example", "erin@example.net"}
	if got := RemoteDomains(set, "HS.example"); !slices.Equal(got, []string{"example.net", "example.org"}) {
		t.Errorf("RemoteDomains = %q", got)
	}
	uris := func(as []cpim.Address) []string {
		var s []string
		for _, a := range as {
			s = append(s, a.URI)
		}
		return s
	}
	for _, tc := range []struct {
		domain string
		to, cc []string
	}{
		{"example.net", []string{"im:bob@example.net", "im:erin@example.net"}, []string{"im:carol@example.org", "im:dave@hs.example"}},
		{"example.org", []string{"im:carol@example.org"}, []string{"im:bob@example.net", "im:dave@hs.example", "im:erin@example.net"}},
	} {
		to, cc := Recipients(set, "alice@hs.example", tc.domain)
		if !slices.Equal(uris(to), tc.to) || !slices.Equal(uris(cc), tc.cc) {
			t.Errorf("Recipients(%s) = To %q cc %q, want To %q cc %q", tc.domain, uris(to), uris(cc), tc.to, tc.cc)
		}
		// The copy names everyone: its participants are the group's.
		m := &cpim.Message{From: cpim.Address{URI: "im:alice@hs.example"}, To: to, Cc: cc}
		if got, err := Participants(m); err != nil || !slices.Equal(got, set) {
			t.Errorf("participants of the copy to %s = %q, %v; want %q", tc.domain, got, err, set)
		}
	}
}

func TestGroupTransID(t *testing.T) {
	a, b := GroupTransID("$ev1", "example.net"), GroupTransID("$ev1", "example.org")
	if a == b || a == "$ev1" || !strings.HasPrefix(a, "$ev1/") {
		t.Errorf("GroupTransID = %q and %q; want distinct, not the Message-ID, starting with it", a, b)
	}
}

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		name string
		subj []cpim.Subject
		want string
	}{
		{"none", nil, ""},
		{"one", []cpim.Subject{{Value: "Trip"}}, "Trip"},
		{"i-default wins", []cpim.Subject{{Lang: "fr", Value: "Voyage"}, {Value: "Trip"}}, "Trip"},
		{"else the first", []cpim.Subject{{Lang: "fr", Value: "Voyage"}, {Lang: "de", Value: "Reise"}}, "Voyage"},
		{"one line", []cpim.Subject{{Value: "  a\nb\tc "}}, "a b c"},
		{"bounded", []cpim.Subject{{Value: strings.Repeat("é", 200)}}, strings.Repeat("é", 127) + "…"},
	} {
		if got := Subject(&cpim.Message{Subject: tc.subj}); got != tc.want {
			t.Errorf("%s: Subject = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestSetSubjectRoundTrip(t *testing.T) {
	m := cpim.NewText(cpim.Address{URI: "im:alice@hs.example"}, cpim.Address{URI: "im:bob@example.net"}, "hi")
	SetSubject(m, "Trip: day 1")
	parsed, err := cpim.Parse(m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := Subject(parsed); got != "Trip: day 1" {
		t.Errorf("Subject after the wire = %q", got)
	}
	SetSubject(m, "")
	if len(m.Subject) != 0 {
		t.Errorf("SetSubject(\"\") left %v", m.Subject)
	}
}
