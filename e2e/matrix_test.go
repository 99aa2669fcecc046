package e2e

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

const waitTimeout = 60 * time.Second

// waitInvite syncs until the user is invited to a room it has not seen before, and joins it.
func waitInvite(t *testing.T, cli *mautrix.Client, seen map[id.RoomID]bool) id.RoomID {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	since := ""
	for {
		resp, err := cli.SyncRequest(ctx, 1000, since, "", false, event.PresenceOffline)
		if err != nil {
			t.Fatalf("waiting for an invite: %v", err)
		}
		since = resp.NextBatch
		for roomID := range resp.Rooms.Invite {
			if !seen[roomID] {
				seen[roomID] = true
				if _, err = cli.JoinRoomByID(ctx, roomID); err != nil {
					t.Fatalf("join %s: %v", roomID, err)
				}
				return roomID
			}
		}
	}
}

// roomEvents returns the room's latest timeline events, oldest first.
func roomEvents(t *testing.T, cli *mautrix.Client, roomID id.RoomID) []*event.Event {
	t.Helper()
	resp, err := cli.Messages(context.Background(), roomID, "", "", mautrix.DirectionBackward, nil, 100)
	if err != nil {
		t.Fatalf("messages in %s: %v", roomID, err)
	}
	evts := resp.Chunk
	for i, j := 0, len(evts)-1; i < j; i, j = i+1, j-1 {
		evts[i], evts[j] = evts[j], evts[i]
	}
	for _, evt := range evts {
		_ = evt.Content.ParseRaw(evt.Type)
	}
	return evts
}

// waitMessage polls the room until a message event matching ok appears.
func waitMessage(t *testing.T, cli *mautrix.Client, roomID id.RoomID, what string, ok func(*event.Event, *event.MessageEventContent) bool) *event.Event {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		for _, evt := range roomEvents(t, cli, roomID) {
			if msg, isMsg := evt.Content.Parsed.(*event.MessageEventContent); isMsg && evt.Type == event.EventMessage && ok(evt, msg) {
				return evt
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in %s after %s", what, roomID, waitTimeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// messagesFrom lists the bodies of the messages sender sent in the room, oldest first.
func messagesFrom(t *testing.T, cli *mautrix.Client, roomID id.RoomID, sender id.UserID) []string {
	var bodies []string
	for _, evt := range roomEvents(t, cli, roomID) {
		if msg, ok := evt.Content.Parsed.(*event.MessageEventContent); ok && evt.Sender == sender {
			bodies = append(bodies, msg.Body)
		}
	}
	return bodies
}

func sendText(t *testing.T, cli *mautrix.Client, roomID id.RoomID, text string) id.EventID {
	t.Helper()
	resp, err := cli.SendText(context.Background(), roomID, text)
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	return resp.EventID
}

// openManagementRoom creates a DM with the bridge bot and waits until the bot has joined.
func openManagementRoom(t *testing.T, cli *mautrix.Client, bot id.UserID) id.RoomID {
	t.Helper()
	ctx := context.Background()
	resp, err := cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{Invite: []id.UserID{bot}, IsDirect: true, Preset: "trusted_private_chat"})
	if err != nil {
		t.Fatalf("create management room: %v", err)
	}
	waitJoined(t, cli, resp.RoomID, bot)
	return resp.RoomID
}

func hasMember(m *mautrix.RespJoinedMembers, u id.UserID) bool {
	_, ok := m.Joined[u]
	return ok
}

// waitJoined waits until user has joined the room.
func waitJoined(t *testing.T, cli *mautrix.Client, roomID id.RoomID, user id.UserID) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		members, err := cli.JoinedMembers(context.Background(), roomID)
		if err == nil && hasMember(members, user) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not join %s", user, roomID)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
