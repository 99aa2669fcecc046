package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// Files up to network.media.inline_max travel inline in the CPIM message; larger ones, up to
// network.media.max_size, as links (message/external-body, docs/extensions.md §5).

// toCPIM converts an outbound Matrix message. A media message's file is downloaded by the bridge
// bot and carried inline if it is at most network.media.inline_max bytes; a larger one goes as a
// link (linkTo) unless network.media.large is refuse. A file whose info.size says it is large is
// not downloaded; one without info.size is, to learn its size.
func (cl *Client) toCPIM(ctx context.Context, from, to cpim.Address, content *event.MessageEventContent, rel portal.Relation) (*cpim.Message, error) {
	if !portal.IsMedia(content.MsgType) {
		return portal.ToCPIM(from, to, content, rel)
	}
	cfg := cl.c.Config.Media
	size := 0
	if content.Info != nil {
		size = content.Info.Size
	}
	var data []byte
	if size <= cfg.InlineMax {
		var err error
		if data, err = cl.c.Bridge.Bot.DownloadMedia(ctx, content.URL, content.File); err != nil {
			return nil, fmt.Errorf("could not download the file from the homeserver: %w", err)
		}
		if len(data) <= cfg.InlineMax {
			return portal.MediaToCPIM(from, to, portal.OutgoingMedia(content, data), rel), nil
		}
		size = len(data)
	}
	if size > cfg.MaxSize {
		return nil, fmt.Errorf("%w: files over %s (this one is %s)", portal.ErrUnsupported, kib(cfg.MaxSize), kib(size))
	}
	link, err := cl.c.linkTo(ctx, content)
	if err != nil {
		return nil, fmt.Errorf("%w: files over %s (this one is %s): %w", portal.ErrUnsupported, kib(cfg.InlineMax), kib(size), err)
	}
	md := portal.OutgoingMedia(content, data)
	md.Data, md.URL, md.Size = nil, link, size
	return portal.MediaToCPIM(from, to, md, rel), nil
}

// kib writes a size in KiB, rounded up.
func kib(size int) string { return fmt.Sprintf("%d KiB", (size+1023)/1024) }

// errRefuseLarge is why a large file cannot go out when network.media.large is refuse.
var errRefuseLarge = errors.New("this bridge sends larger files neither inline nor as links")

// linkTo returns the URL a gateway fetches a large file from, per network.media.large: a public
// media link the bridge serves (bridgev2's public_media, which also decrypts files of encrypted
// rooms), or the homeserver's own download URL.
func (c *Connector) linkTo(ctx context.Context, content *event.MessageEventContent) (string, error) {
	switch c.Config.Media.Large {
	case LargeLink:
		pm, ok := c.Bridge.Matrix.(bridgev2.MatrixConnectorWithPublicMedia)
		if !ok {
			return "", bridgev2.ErrPublicMediaDisabled
		}
		link, err := pm.GetPublicMediaAddressForEvent(ctx, content)
		if errors.Is(err, bridgev2.ErrPublicMediaDisabled) {
			return "", errors.New("the bridge has no public media address (public_media in its config)")
		}
		return link, err
	case LargeHomeserver:
		hs := c.matrix.Config.Homeserver
		base := hs.PublicAddress
		if base == "" {
			base = hs.Address
		}
		return homeserverLink(base, content)
	}
	return "", errRefuseLarge
}

// homeserverLink returns the homeserver's unauthenticated download URL of a file
// (/_matrix/media/v3/download, deprecated by Matrix v1.11 and frozen or turned off on current
// homeservers). A file of an encrypted room has none: the gateway would get the ciphertext.
func homeserverLink(base string, content *event.MessageEventContent) (string, error) {
	if content.File != nil {
		return "", errors.New("files of encrypted rooms cannot be sent as homeserver links")
	}
	mxc, err := content.URL.Parse()
	if err != nil || !mxc.IsValid() {
		return "", fmt.Errorf("the file has no valid mxc:// URL %q", content.URL)
	}
	link := strings.TrimRight(base, "/") + "/_matrix/media/v3/download/" + url.PathEscape(mxc.Homeserver) + "/" + url.PathEscape(mxc.FileID)
	if name := content.GetFileName(); name != "" {
		link += "/" + url.PathEscape(name)
	}
	return link, nil
}

// checkMedia runs when Accept takes a message with a file. A file over network.media.max_size is
// refused with 413. A linked file is fetched now, and m rewritten to carry it inline, so that what
// is stored is what will be delivered: the gateway learns at once whether the link works (fetch
// says how it failed), and a link that expires or breaks while the message waits cannot lose it.
func (c *Connector) checkMedia(ctx context.Context, m *cpim.Message, in *portal.Incoming) error {
	md := in.Media
	if md == nil {
		return nil
	}
	limit := c.Config.Media.MaxSize
	if size := max(len(md.Data), md.Size); size > limit {
		return gateway.Refuse(http.StatusRequestEntityTooLarge, gateway.CodeTooLarge, "the file is %d bytes; this bridge accepts files of up to %d bytes", size, limit)
	}
	if md.URL == "" {
		return nil
	}
	data, err := c.fetcher.fetch(ctx, md.URL)
	if err != nil {
		return err
	}
	md.Data, md.URL, md.Size = data, "", 0
	in.Content = md.MatrixContent()
	m.Content = md.Content()
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
// to network.media.max_size bytes if larger ones go as links, else up to network.media.inline_max.
func (c *Connector) fileFeatures() event.FileFeatureMap {
	limit := c.Config.Media.InlineMax
	if large := c.Config.Media.Large; large == LargeHomeserver || large == LargeLink && c.matrix != nil && c.matrix.Config.PublicMedia.Enabled {
		limit = c.Config.Media.MaxSize
	}
	files := event.FileFeatureMap{}
	for _, t := range []event.CapabilityMsgType{event.MsgImage, event.MsgVideo, event.MsgAudio, event.MsgFile} {
		files[t] = &event.FileFeatures{
			MimeTypes: map[string]event.CapabilitySupportLevel{"*/*": event.CapLevelFullySupported},
			Caption:   event.CapLevelFullySupported,
			MaxSize:   int64(limit),
		}
	}
	return files
}
