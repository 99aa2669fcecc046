package bridge

import (
	"context"
	"fmt"
	"net/http"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// Files travel inline in the CPIM message both ways (docs/extensions.md §5): the gateway cannot
// follow a link to the homeserver's media, which needs a Matrix access token.

// toCPIM converts an outbound Matrix message; a media message's file is downloaded by the bridge
// bot and carried inline if it is at most network.media.inline_max bytes.
func (cl *Client) toCPIM(ctx context.Context, from, to cpim.Address, content *event.MessageEventContent, rel portal.Relation) (*cpim.Message, error) {
	if !portal.IsMedia(content.MsgType) {
		return portal.ToCPIM(from, to, content, rel)
	}
	limit := cl.c.Config.Media.InlineMax
	tooLarge := func(size int) error {
		return fmt.Errorf("%w: files over %d KiB (this one is %d KiB)", portal.ErrUnsupported, limit/1024, (size+1023)/1024)
	}
	if content.Info != nil && content.Info.Size > limit {
		return nil, tooLarge(content.Info.Size)
	}
	data, err := cl.c.Bridge.Bot.DownloadMedia(ctx, content.URL, content.File)
	if err != nil {
		return nil, fmt.Errorf("could not download the file from the homeserver: %w", err)
	}
	if len(data) > limit {
		return nil, tooLarge(len(data))
	}
	return portal.MediaToCPIM(from, to, portal.OutgoingMedia(content, data), rel), nil
}

// checkMedia refuses an inbound file over network.media.max_size before it is accepted.
func (c *Connector) checkMedia(in *portal.Incoming) error {
	if in.Media != nil && len(in.Media.Data) > c.Config.Media.MaxSize {
		return gateway.Refuse(http.StatusRequestEntityTooLarge, gateway.CodeTooLarge, "the file is %d bytes; this bridge accepts files of up to %d bytes", len(in.Media.Data), c.Config.Media.MaxSize)
	}
	return nil
}

// mediaMessage is the remote event of an inbound file: converted like a text message (one part,
// its reply and metadata), but the ghost first uploads the file, when bridgev2 converts the
// message, so that it is stored under the sender's name. A failed upload fails the conversion, and
// the delivery worker tries again.
func mediaMessage(meta simplevent.EventMeta, msgID networkid.MessageID, converted *bridgev2.ConvertedMessage, in *portal.Incoming) bridgev2.RemoteEvent {
	return &simplevent.Message[*portal.Incoming]{
		EventMeta: meta,
		Data:      in,
		ID:        msgID,
		ConvertMessageFunc: func(ctx context.Context, p *bridgev2.Portal, intent bridgev2.MatrixAPI, in *portal.Incoming) (*bridgev2.ConvertedMessage, error) {
			content := *in.Content
			var err error
			content.URL, content.File, err = intent.UploadMedia(ctx, p.MXID, in.Media.Data, content.FileName, in.Media.MimeType)
			if err != nil {
				return nil, fmt.Errorf("upload %s: %w", content.FileName, err)
			}
			part := *converted.Parts[0]
			part.Content = &content
			out := *converted
			out.Parts = []*bridgev2.ConvertedMessagePart{&part}
			return &out, nil
		},
	}
}

// fileFeatures advertises the Matrix file messages the bridge carries, any type, with a caption, up
// to network.media.inline_max bytes.
func (c *Connector) fileFeatures() event.FileFeatureMap {
	files := event.FileFeatureMap{}
	for _, t := range []event.CapabilityMsgType{event.MsgImage, event.MsgVideo, event.MsgAudio, event.MsgFile} {
		files[t] = &event.FileFeatures{
			MimeTypes: map[string]event.CapabilitySupportLevel{"*/*": event.CapLevelFullySupported},
			Caption:   event.CapLevelFullySupported,
			MaxSize:   int64(c.Config.Media.InlineMax),
		}
	}
	return files
}
