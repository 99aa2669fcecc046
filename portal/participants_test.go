package portal

import (
	"slices"
	"testing"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

func TestParticipants(t *testing.T) {
	addr := func(uri string) cpim.Address { return cpim.Address{URI: uri} }
	for _, tc := range []struct {
		name    string
		from    string
		to, cc  []string
		want    []networkid.UserID
		wantErr bool
	}{
		{"dm", "im:bob@example.net", []string{"im:alice@hs.example"}, nil,
			[]networkid.UserID{"alice@hs.example", "bob@example.net"}, false},
		{"group with cc", "im:bob@example.net", []string{"im:alice@hs.example"}, []string{"sip:carol@Example.ORG"},
			[]networkid.UserID{"alice@hs.example", "bob@example.net", "carol@example.org"}, false},
		{"same person twice in other schemes", "xmpp:bob@example.net/home", []string{"im:alice@hs.example", "im:bob@example.net"}, []string{"im:alice@hs.example"},
			[]networkid.UserID{"alice@hs.example", "bob@example.net"}, false},
		{"telephone number", "im:bob@example.net", []string{"tel:+15551234"}, nil, nil, true},
		{"bad sender", "im:example.net", []string{"im:alice@hs.example"}, nil, nil, true},
	} {
		m := &cpim.Message{From: addr(tc.from)}
		for _, u := range tc.to {
			m.To = append(m.To, addr(u))
		}
		for _, u := range tc.cc {
			m.Cc = append(m.Cc, addr(u))
		}
		got, err := Participants(m)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want error %v", tc.name, err, tc.wantErr)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestParticipantsSameForEverySender(t *testing.T) {
	a := &cpim.Message{From: cpim.Address{URI: "im:bob@example.net"}, To: []cpim.Address{{URI: "im:alice@hs.example"}, {URI: "im:carol@example.org"}}}
	b := &cpim.Message{From: cpim.Address{URI: "im:carol@example.org"}, To: []cpim.Address{{URI: "im:bob@example.net"}}, Cc: []cpim.Address{{URI: "im:alice@hs.example"}}}
	pa, errA := Participants(a)
	pb, errB := Participants(b)
	if errA != nil || errB != nil || !slices.Equal(pa, pb) {
		t.Errorf("participants differ by sender: %q (%v) and %q (%v)", pa, errA, pb, errB)
	}
}
