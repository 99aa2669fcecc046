package devbridge

import (
	"context"
	"fmt"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Matrix client steps a user of the bridge takes, shared by the end-to-end tests and the
// quick-start demo. Each waits until ctx ends.

const pollInterval = 250 * time.Millisecond

// OpenManagementRoom creates a DM with the bridge bot and waits until the bot has joined it.
func OpenManagementRoom(ctx context.Context, cli *mautrix.Client, bot id.UserID) (id.RoomID, error) {
	resp, err := cli.CreateRoom(ctx, &mautrix.ReqCreateRoom{Invite: []id.UserID{bot}, IsDirect: true, Preset: "trusted_private_chat"})
	if err != nil {
		return "", fmt.Errorf("create management room: %w", err)
	}
	return resp.RoomID, WaitJoined(ctx, cli, resp.RoomID, bot)
}

// WaitJoined waits until user is a member of the room.
func WaitJoined(ctx context.Context, cli *mautrix.Client, roomID id.RoomID, user id.UserID) error {
	for {
		if members, err := cli.JoinedMembers(ctx, roomID); err == nil {
			if _, ok := members.Joined[user]; ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not join %s: %w", user, roomID, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// WaitInvite syncs until the user is invited to a room not in seen, joins it and adds it to seen.
// Spaces are passed over: bridgev2 invites each user to a personal space of the bridge's rooms,
// at a moment of its own choosing.
func WaitInvite(ctx context.Context, cli *mautrix.Client, seen map[id.RoomID]bool) (id.RoomID, error) {
	since := ""
	for {
		resp, err := cli.SyncRequest(ctx, 1000, since, "", false, event.PresenceOffline)
		if err != nil {
			return "", fmt.Errorf("waiting for an invite: %w", err)
		}
		since = resp.NextBatch
		for roomID := range resp.Rooms.Invite {
			if !seen[roomID] {
				seen[roomID] = true
				if _, err = cli.JoinRoomByID(ctx, roomID); err != nil {
					return "", fmt.Errorf("join %s: %w", roomID, err)
				}
				var create event.CreateEventContent
				if err = cli.StateEvent(ctx, roomID, event.StateCreate, "", &create); err != nil {
					return "", fmt.Errorf("create event of %s: %w", roomID, err)
				}
				if create.Type != event.RoomTypeSpace {
					return roomID, nil
				}
			}
		}
	}
}

// RoomMessages returns the room's latest message events (up to 100), oldest first.
func RoomMessages(ctx context.Context, cli *mautrix.Client, roomID id.RoomID) ([]*event.Event, error) {
	resp, err := cli.Messages(ctx, roomID, "", "", mautrix.DirectionBackward, nil, 100)
	if err != nil {
		return nil, fmt.Errorf("messages in %s: %w", roomID, err)
	}
	var msgs []*event.Event
	for i := len(resp.Chunk) - 1; i >= 0; i-- {
		evt := resp.Chunk[i]
		if evt.Type != event.EventMessage {
			continue
		}
		_ = evt.Content.ParseRaw(evt.Type)
		if _, ok := evt.Content.Parsed.(*event.MessageEventContent); ok {
			msgs = append(msgs, evt)
		}
	}
	return msgs, nil
}

// WaitMessage polls the room until a message matching ok appears.
func WaitMessage(ctx context.Context, cli *mautrix.Client, roomID id.RoomID, ok func(*event.Event, *event.MessageEventContent) bool) (*event.Event, error) {
	for {
		msgs, err := RoomMessages(ctx, cli, roomID)
		if err != nil {
			return nil, err
		}
		for _, evt := range msgs {
			if ok(evt, evt.Content.AsMessage()) {
				return evt, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}
