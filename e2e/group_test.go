package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
	"github.com/matrix-cpim/matrix-cpim/internal/tesths"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// orgInboundToken is the inbound token of the second gateway of TestGroupConversation.
const orgInboundToken = "org-to-bridge-secret"

// TestGroupConversation: bob (example.net, one gateway) writes to alice and dave (Matrix users) and
// carol (example.org, another gateway) with a Subject. The four share one room named by it; what
// alice writes there reaches both gateways, each addressed To its own participants; replies,
// edits and renames work across the group, and so does a group alice starts from Matrix.
func TestGroupConversation(t *testing.T) {
	db := dbtest.Backends(t)[0]
	net, org := newTestGateway(t), newTestGateway(t)
	hs := tesths.New(t)
	gw := func(name, url, inbound, domain string) map[string]any {
		return map[string]any{"name": name, "transport": "http", "url": url, "token": tokenOut, "inbound_token": inbound, "domains": []any{domain}}
	}
	b := setupBridge(t, hs, db, map[string]any{"gateways": []any{
		gw("partner", net.srv.URL, tokenIn, "example.net"),
		gw("org", org.srv.URL, orgInboundToken, "example.org"),
	}})
	hs.Start(t, b.reg)
	b.start(t)

	alice, dave := hs.RegisterUser(t, "alice"), hs.RegisterUser(t, "dave")
	aliceIM, daveIM := "im:alice@"+hs.ServerName, "im:dave@"+hs.ServerName
	bob := cpim.Address{Name: "Bob Example", URI: "im:bob@example.net"}
	carol := cpim.Address{Name: "Carol", URI: "im:carol@example.org"}
	bobGhost := id.NewUserID("cpim_bob=40example.net", hs.ServerName)
	carolGhost := id.NewUserID("cpim_carol=40example.org", hs.ServerName)

	// 1. bob writes to the group; alice and dave are invited to one room named by the Subject, with
	// bob and carol as ghosts.
	first := groupMessage(bob, []string{aliceIM}, []cpim.Address{carol, {URI: daveIM}}, "BOBG1", "Who is coming on Saturday?")
	first.Subject = []cpim.Subject{{Lang: "fr", Value: "Sortie"}, {Value: "Trip"}}
	postCPIM(t, b, first)
	room := waitInvite(t, alice, map[id.RoomID]bool{})
	if daveRoom := waitInvite(t, dave, map[id.RoomID]bool{}); daveRoom != room {
		t.Fatalf("alice is in %s, dave in %s; want one room", room, daveRoom)
	}
	waitMessage(t, alice, room, "bob's group message", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == bobGhost && c.Body == "Who is coming on Saturday?"
	})
	var name event.RoomNameEventContent
	if err := alice.StateEvent(t.Context(), room, event.StateRoomName, "", &name); err != nil || name.Name != "Trip" {
		t.Errorf("room name = %q (%v), want Trip", name.Name, err)
	}
	members, err := alice.JoinedMembers(t.Context(), room)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []id.UserID{alice.UserID, dave.UserID, bobGhost, carolGhost} {
		if _, ok := members.Joined[u]; !ok {
			t.Errorf("%s is not in the room", u)
		}
	}
	for u := range members.Joined {
		if strings.Contains(u.String(), "=40"+hs.ServerName) {
			t.Errorf("a local user is in the room as a ghost too: %s", u)
		}
	}
	if profile, err := alice.GetProfile(t.Context(), carolGhost); err != nil || profile.DisplayName != "Carol" {
		t.Errorf("carol's ghost (named only in a cc) = %+v, %v; want displayname Carol", profile, err)
	}

	// 2. alice answers in the room: each gateway gets a copy To its own participants, cc the
	// others, with the room name as Subject and one Message-ID.
	resp, err := alice.SendText(t.Context(), room, "count me in")
	if err != nil {
		t.Fatal(err)
	}
	aliceMsg := resp.EventID
	var mids, keys []string
	for _, c := range []struct {
		gw     *testGateway
		to, cc []string
	}{
		{net, []string{"im:bob@example.net"}, []string{"im:carol@example.org", daveIM}},
		{org, []string{"im:carol@example.org"}, []string{"im:bob@example.net", daveIM}},
	} {
		req, body := c.gw.next(t)
		m, err := cpim.Parse(body)
		if err != nil {
			t.Fatalf("bridge sent non-conformant CPIM: %v\n%s", err, body)
		}
		if m.From.URI != aliceIM || !slices.Equal(uris(m.To), c.to) || !slices.Equal(uris(m.Cc), c.cc) || portal.Subject(m) != "Trip" || string(m.Content.Body) != "count me in" {
			t.Errorf("copy: From %s To %q cc %q Subject %q body %q; want To %q cc %q Subject Trip",
				m.From.URI, uris(m.To), uris(m.Cc), portal.Subject(m), m.Content.Body, c.to, c.cc)
		}
		mids, keys = append(mids, imdn.MessageID(m)), append(keys, req.Header.Get("Idempotency-Key"))
	}
	aliceMID := mids[0]
	if aliceMID == "" || mids[1] != aliceMID || keys[0] == keys[1] {
		t.Errorf("Message-IDs %q, Idempotency-Keys %q; want one Message-ID, two keys", mids, keys)
	}

	// 3. carol replies to alice through her own gateway, addressing both Matrix users; it lands in
	// the same room as a reply.
	reply := groupMessage(carol, []string{aliceIM, daveIM}, []cpim.Address{bob}, "CAROL1", "> count me in\n\nme too")
	reply.Add(portal.Namespace, portal.Prefix, portal.HeaderInReplyTo, aliceMID)
	if code, resp := post(t, b.URL+"/_cpim/v1/message", orgInboundToken, "message/cpim", "", reply.Bytes()); code != http.StatusAccepted {
		t.Fatalf("carol's gateway post: %d %s", code, resp)
	}
	carolReply := waitMessage(t, alice, room, "carol's reply", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == carolGhost && c.Body == "me too"
	})
	if got := carolReply.Content.AsMessage().RelatesTo.GetReplyTo(); got != aliceMsg {
		t.Errorf("carol's reply relates to %q, want alice's %q", got, aliceMsg)
	}

	// 4. bob edits his first message and renames the group with a new Subject.
	edit := groupMessage(bob, []string{aliceIM}, []cpim.Address{carol, {URI: daveIM}}, "BOBG2", "✏️ Who is coming on Sunday?")
	edit.Add(portal.Namespace, portal.Prefix, portal.HeaderReplaces, "BOBG1")
	postCPIM(t, b, edit)
	waitEvent(t, alice, room, "bob's edit", func(evt *event.Event) bool {
		c, ok := evt.Content.Parsed.(*event.MessageEventContent)
		return ok && evt.Sender == bobGhost && c.NewContent != nil && c.NewContent.Body == "Who is coming on Sunday?"
	})
	rename := groupMessage(bob, []string{aliceIM}, []cpim.Address{carol, {URI: daveIM}}, "BOBG3", "new plan")
	rename.Subject = []cpim.Subject{{Value: "Sunday trip"}}
	postCPIM(t, b, rename)
	waitEvent(t, alice, room, "bob's rename", func(evt *event.Event) bool {
		c, ok := evt.Content.Parsed.(*event.RoomNameEventContent)
		return ok && evt.Sender == bobGhost && c.Name == "Sunday trip"
	})

	// 5. dave replies to carol's message: both copies name it by carol's Message-ID.
	daveReply := &event.MessageEventContent{MsgType: event.MsgText, Body: "great"}
	daveReply.RelatesTo = (&event.RelatesTo{}).SetReplyTo(carolReply.ID)
	if _, err = dave.SendMessageEvent(t.Context(), room, event.EventMessage, daveReply); err != nil {
		t.Fatal(err)
	}
	for _, g := range []*testGateway{net, org} {
		m := nextCPIM(t, g)
		if v, _ := m.Get(portal.Namespace, portal.HeaderInReplyTo); v != "CAROL1" || m.From.URI != daveIM || portal.Subject(m) != "Sunday trip" {
			t.Errorf("dave's reply: From %s, In-Reply-To %q, Subject %q", m.From.URI, v, portal.Subject(m))
		}
	}

	// 6. alice renames the room; the next message carries the new name as its Subject.
	if _, err = alice.SendStateEvent(t.Context(), room, event.StateRoomName, "", &event.RoomNameEventContent{Name: "Beach"}); err != nil {
		t.Fatalf("alice renames the group: %v", err)
	}
	sendText(t, alice, room, "bring towels")
	for _, g := range []*testGateway{net, org} {
		if m := nextCPIM(t, g); portal.Subject(m) != "Beach" || string(m.Content.Body) != "bring towels" {
			t.Errorf("after the rename: Subject %q, body %q; want Beach, bring towels", portal.Subject(m), m.Content.Body)
		}
	}

	// 7. a group none of whose local addresses is a user is refused like a DM to nobody.
	nobody := groupMessage(bob, []string{"im:nobody-here@" + hs.ServerName}, []cpim.Address{carol}, "BOBG4", "anyone?")
	if code, resp := post(t, b.URL+"/_cpim/v1/message", tokenIn, "message/cpim", "", nobody.Bytes()); code != http.StatusNotFound || !strings.Contains(resp, "CPIM_UNKNOWN_RECIPIENT") {
		t.Errorf("group with no user: %d %s, want 404 CPIM_UNKNOWN_RECIPIENT", code, resp)
	}

	// 8. alice starts a group with bob and carol from Matrix, through the provisioning API's
	// create_group as Matrix clients do: a new room named Plans. What she writes there reaches both
	// gateways, and bob's message to the same three lands in it.
	// A participant is a ghost's network ID or its Matrix ID.
	body := `{"participants": ["bob@example.net", "` + carolGhost.String() + `"], "name": {"name": "Plans"}}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, b.URL+"/_matrix/provision/v3/create_group/group?user_id="+url.QueryEscape(alice.UserID.String()), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+alice.AccessToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		MXID id.RoomID `json:"mxid"`
	}
	err = json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || created.MXID == "" {
		t.Fatalf("create_group: %d, %+v, %v", res.StatusCode, created, err)
	}
	seen := map[id.RoomID]bool{room: true}
	if got := waitInvite(t, alice, seen); got != created.MXID {
		t.Fatalf("alice was invited to %s, want the new group %s", got, created.MXID)
	}
	if err = alice.StateEvent(t.Context(), created.MXID, event.StateRoomName, "", &name); err != nil || name.Name != "Plans" {
		t.Errorf("new group's name = %q (%v), want Plans", name.Name, err)
	}
	sendText(t, alice, created.MXID, "who is in?")
	for _, c := range []struct {
		gw     *testGateway
		to, cc []string
	}{
		{net, []string{"im:bob@example.net"}, []string{"im:carol@example.org"}},
		{org, []string{"im:carol@example.org"}, []string{"im:bob@example.net"}},
	} {
		m := nextCPIM(t, c.gw)
		if m.From.URI != aliceIM || !slices.Equal(uris(m.To), c.to) || !slices.Equal(uris(m.Cc), c.cc) || portal.Subject(m) != "Plans" || string(m.Content.Body) != "who is in?" {
			t.Errorf("copy from the new group: From %s To %q cc %q Subject %q body %q; want To %q cc %q Subject Plans",
				m.From.URI, uris(m.To), uris(m.Cc), portal.Subject(m), m.Content.Body, c.to, c.cc)
		}
	}
	postCPIM(t, b, groupMessage(bob, []string{aliceIM}, []cpim.Address{carol}, "BOBG5", "me!"))
	waitMessage(t, alice, created.MXID, "bob's answer in the group alice started", func(e *event.Event, c *event.MessageEventContent) bool {
		return e.Sender == bobGhost && c.Body == "me!"
	})
}

func groupMessage(from cpim.Address, to []string, cc []cpim.Address, mid, text string) *cpim.Message {
	m := cpim.NewText(from, cpim.Address{URI: to[0]}, text)
	for _, uri := range to[1:] {
		m.To = append(m.To, cpim.Address{URI: uri})
	}
	m.Cc = cc
	m.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, mid)
	return m
}

func uris(as []cpim.Address) []string {
	var s []string
	for _, a := range as {
		s = append(s, a.URI)
	}
	return s
}
