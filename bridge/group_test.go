package bridge

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/bridgeconfig"
	bridgedb "maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// testLogin is the login of a local user of a bridge whose im: domain is domain.
func testLogin(domain, user string) *bridgev2.UserLogin {
	c := &Connector{Bridge: &bridgev2.Bridge{Config: &bridgeconfig.BridgeConfig{}}, addrs: portal.Addresses{IMDomain: domain, ServerName: domain}}
	ul := &bridgev2.UserLogin{UserLogin: &bridgedb.UserLogin{ID: networkid.UserLoginID(user + "@" + domain)}}
	ul.Client = &Client{c: c, login: ul, uri: "im:" + string(ul.ID)}
	return ul
}

func TestInboundPortal(t *testing.T) {
	alice := testLogin("hs.example", "alice")
	c := alice.Client.(*Client).c
	addr := func(uri string) cpim.Address { return cpim.Address{URI: uri} }
	dm := &cpim.Message{From: addr("im:bob@example.net"), To: []cpim.Address{addr("im:alice@hs.example")}}
	group := &cpim.Message{From: addr("im:bob@example.net"), To: []cpim.Address{addr("im:alice@hs.example")},
		Cc: []cpim.Address{addr("im:carol@example.org"), addr("im:dave@hs.example")}}
	// The same group, as carol writes to it.
	fromCarol := &cpim.Message{From: addr("sip:carol@example.org"), To: []cpim.Address{addr("im:dave@hs.example"), addr("im:alice@hs.example")},
		Cc: []cpim.Address{addr("im:bob@example.net")}}

	key, set, err := c.inboundPortal(alice, dm, "bob@example.net")
	if err != nil || set != nil || key != (networkid.PortalKey{ID: "bob@example.net", Receiver: alice.ID}) {
		t.Errorf("DM: key %v, set %q, err %v; want alice's DM with bob", key, set, err)
	}
	key, set, err = c.inboundPortal(alice, group, "bob@example.net")
	if err != nil || key.Receiver != "" || len(set) != 4 {
		t.Fatalf("group: key %v, set %q, err %v; want a shared portal of 4", key, set, err)
	}
	other, _, err := c.inboundPortal(testLogin("hs.example", "dave"), fromCarol, "carol@example.org")
	if err != nil || other != key {
		t.Errorf("carol's message to the group is in %v (%v), bob's in %v", other, err, key)
	}

	tel := &cpim.Message{From: addr("im:bob@example.net"), To: []cpim.Address{addr("im:alice@hs.example")}, Cc: []cpim.Address{addr("tel:+15551234")}}
	var r *gateway.Refusal
	if _, _, err = c.inboundPortal(alice, tel, "bob@example.net"); !errors.As(err, &r) || r.Status != http.StatusBadRequest {
		t.Errorf("cc a telephone number: err %v, want a 400 refusal", err)
	}
	big := &cpim.Message{From: addr("im:bob@example.net"), To: []cpim.Address{addr("im:alice@hs.example")}}
	for i := range 120 {
		big.Cc = append(big.Cc, addr("im:participant"+strings.Repeat("x", i%5)+string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.org"))
	}
	if _, _, err = c.inboundPortal(alice, big, "bob@example.net"); !errors.As(err, &r) || r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("120 participants: err %v, want a 413 refusal", err)
	}
	c.Bridge.Config.SplitPortals = true
	if _, _, err = c.inboundPortal(alice, group, "bob@example.net"); !errors.As(err, &r) || r.Status != http.StatusBadRequest {
		t.Errorf("group with split portals: err %v, want a 400 refusal", err)
	}
	if key, _, err = c.inboundPortal(alice, dm, "bob@example.net"); err != nil || key.Receiver != alice.ID {
		t.Errorf("DM with split portals: key %v, err %v", key, err)
	}
}

// TestGroupCopies sends a group message from Matrix: one copy per remote domain, each addressed To
// the participants there, and each read back by a bridge of that domain as the same group.
func TestGroupCopies(t *testing.T) {
	alice := testLogin("hs.example", "alice")
	cl := alice.Client.(*Client)
	set := []networkid.UserID{"alice@hs.example", "bob@example.net", "carol@example.org", "dave@hs.example", "erin@example.net"}
	id, err := portal.GroupID(set)
	if err != nil {
		t.Fatal(err)
	}
	p := &bridgev2.Portal{Portal: &bridgedb.Portal{PortalKey: networkid.PortalKey{ID: id}, Name: "Trip"}}
	m, err := portal.ToCPIM(cpim.Address{Name: "Alice", URI: cl.uri}, cpim.Address{URI: "im:bob@example.net"}, &event.MessageEventContent{MsgType: event.MsgText, Body: "hi all"}, portal.Relation{})
	if err != nil {
		t.Fatal(err)
	}
	m.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, "$ev1")
	rows := cl.groupCopies(p, set, "alice@hs.example", m, "$ev1")

	want := []struct{ domain, to string }{
		{"example.net", "im:bob@example.net im:erin@example.net"},
		{"example.org", "im:carol@example.org"},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d copies, want %d", len(rows), len(want))
	}
	conversations := map[string]bool{}
	for i, o := range rows {
		w := want[i]
		if o.Domain != w.domain || o.TransID != portal.GroupTransID("$ev1", w.domain) {
			t.Errorf("copy %d: domain %s, TransID %s; want %s, %s", i, o.Domain, o.TransID, w.domain, portal.GroupTransID("$ev1", w.domain))
		}
		conversations[o.Conversation] = true
		got, err := cpim.Parse(o.Body)
		if err != nil {
			t.Fatalf("copy to %s is not conformant: %v\n%s", o.Domain, err, o.Body)
		}
		var to []string
		for _, a := range got.To {
			to = append(to, a.URI)
		}
		if strings.Join(to, " ") != w.to || portal.Subject(got) != "Trip" || imdn.MessageID(got) != "$ev1" || got.From.URI != cl.uri {
			t.Errorf("copy to %s: From %s To %q Subject %q Message-ID %q", o.Domain, got.From.URI, to, portal.Subject(got), imdn.MessageID(got))
		}
		// A bridge of the recipients' domain reads the copy as the same group.
		peer := testLogin(o.Domain, strings.TrimSuffix(strings.TrimPrefix(got.To[0].URI, "im:"), "@"+o.Domain))
		key, peerSet, err := peer.Client.(*Client).c.inboundPortal(peer, got, "alice@hs.example")
		if err != nil || key.ID != id || !slices.Equal(peerSet, set) {
			t.Errorf("copy to %s is read as %v %q (%v), want group %q", o.Domain, key, peerSet, err, id)
		}
	}
	if len(conversations) != len(rows) {
		t.Errorf("copies share an outbound conversation: %v", conversations)
	}
}

func TestConversationKey(t *testing.T) {
	dm := networkid.PortalKey{ID: "bob@example.net", Receiver: "alice@hs.example"}
	if got := conversationKey(dm, "example.net"); got != dm.String() {
		t.Errorf("DM conversation = %q, want the portal key %q as before groups", got, dm.String())
	}
	group := networkid.PortalKey{ID: "group:alice@hs.example bob@example.net carol@example.org"}
	if a, b := conversationKey(group, "example.net"), conversationKey(group, "example.org"); a == b {
		t.Errorf("a group's domains share the conversation %q", a)
	}
}

func TestGroupCapabilities(t *testing.T) {
	cl := testLogin("hs.example", "alice").Client.(*Client)
	dm := cl.GetCapabilities(t.Context(), &bridgev2.Portal{Portal: &bridgedb.Portal{PortalKey: networkid.PortalKey{ID: "bob@example.net"}}})
	group := cl.GetCapabilities(t.Context(), &bridgev2.Portal{Portal: &bridgedb.Portal{PortalKey: networkid.PortalKey{ID: "group:alice@hs.example bob@example.net carol@example.org"}}})
	if dm.ID == group.ID {
		t.Errorf("DM and group capabilities share the ID %q", dm.ID)
	}
	if _, ok := dm.State[event.StateRoomName.Type]; ok {
		t.Error("a DM advertises a room name")
	}
	if s := group.State[event.StateRoomName.Type]; s == nil || s.Level != event.CapLevelFullySupported {
		t.Errorf("group room name capability = %+v", s)
	}
	if group.Reply != event.CapLevelFullySupported || group.Edit != event.CapLevelFullySupported || group.Reaction != event.CapLevelFullySupported || group.Delete != event.CapLevelFullySupported || !group.ReadReceipts || !group.TypingNotifications {
		t.Errorf("group capabilities lack what groups carry: %+v", group)
	}
}

// TestWireIDInGroups: in a group a Matrix user can answer a message of another Matrix user, which
// goes by its own ID, as well as a contact's, which goes by the Message-ID the contact gave it.
func TestWireIDInGroups(t *testing.T) {
	cl := testLogin("hs.example", "alice").Client.(*Client)
	for _, tc := range []struct {
		id     networkid.MessageID
		sender networkid.UserID
		want   string
	}{
		{"$mine", "alice@hs.example", "$mine"},
		{"$daves", "dave@hs.example", "$daves"},
		{"bob@example.net/BOB1", "bob@example.net", "BOB1"},
		{"gateway-key-1", "bob@example.net", ""},
	} {
		if got := cl.wireID(&bridgedb.Message{ID: tc.id, SenderID: tc.sender}); got != tc.want {
			t.Errorf("wireID(%s from %s) = %q, want %q", tc.id, tc.sender, got, tc.want)
		}
	}
}

func TestInGroup(t *testing.T) {
	group := networkid.PortalKey{ID: "group:alice@hs.example bob@example.net carol@example.org"}
	for _, tc := range []struct {
		key  networkid.PortalKey
		who  networkid.UserID
		want bool
	}{
		{group, "carol@example.org", true},
		{group, "erin@example.org", false},
		{networkid.PortalKey{ID: "carol@example.org", Receiver: "alice@hs.example"}, "carol@example.org", false},
	} {
		if got := inGroup(tc.key, tc.who); got != tc.want {
			t.Errorf("inGroup(%v, %s) = %v, want %v", tc.key, tc.who, got, tc.want)
		}
	}
}
