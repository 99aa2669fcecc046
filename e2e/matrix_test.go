package e2e

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/internal/devbridge"
)

// waitTimeout bounds every wait for the homeserver or the bridge; generous for a loaded machine.
const waitTimeout = 60 * time.Second

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitInvite waits for an invite to a room not in seen and joins it.
func waitInvite(t *testing.T, cli *mautrix.Client, seen map[id.RoomID]bool) id.RoomID {
	t.Helper()
	roomID, err := devbridge.WaitInvite(waitCtx(t), cli, seen)
	if err != nil {
		t.Fatal(err)
	}
	return roomID
}

// waitMessage waits until a message matching ok is in the room.
func waitMessage(t *testing.T, cli *mautrix.Client, roomID id.RoomID, what string, ok func(*event.Event, *event.MessageEventContent) bool) *event.Event {
	t.Helper()
	evt, err := devbridge.WaitMessage(waitCtx(t), cli, roomID, ok)
	if err != nil {
		t.Fatalf("no %s in %s: %v", what, roomID, err)
	}
	return evt
}

// messagesFrom lists the bodies of the messages sender sent in the room, oldest first.
func messagesFrom(t *testing.T, cli *mautrix.Client, roomID id.RoomID, sender id.UserID) []string {
	t.Helper()
	var bodies []string
	for _, evt := range roomEvents(t, cli, roomID) {
		if evt.Sender == sender {
			bodies = append(bodies, evt.Content.AsMessage().Body)
		}
	}
	return bodies
}

func sendText(t *testing.T, cli *mautrix.Client, roomID id.RoomID, text string) id.EventID {
	t.Helper()
	resp, err := cli.SendText(t.Context(), roomID, text)
	if err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
	return resp.EventID
}

// openManagementRoom creates a DM with the bridge bot and waits until the bot has joined.
func openManagementRoom(t *testing.T, cli *mautrix.Client, bot id.UserID) id.RoomID {
	t.Helper()
	roomID, err := devbridge.OpenManagementRoom(waitCtx(t), cli, bot)
	if err != nil {
		t.Fatal(err)
	}
	return roomID
}

// waitJoined waits until user has joined the room.
func waitJoined(t *testing.T, cli *mautrix.Client, roomID id.RoomID, user id.UserID) {
	t.Helper()
	if err := devbridge.WaitJoined(waitCtx(t), cli, roomID, user); err != nil {
		t.Fatal(err)
	}
}

// roomEvents returns the room's latest message events, oldest first.
func roomEvents(t *testing.T, cli *mautrix.Client, roomID id.RoomID) []*event.Event {
	t.Helper()
	msgs, err := devbridge.RoomMessages(t.Context(), cli, roomID)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}
