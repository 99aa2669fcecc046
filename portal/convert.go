package portal

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

// ErrUnsupported is wrapped by conversion errors for Matrix content that has no CPIM form yet; the
// bridge shows them to the user as a failed send.
var ErrUnsupported = fmt.Errorf("not supported by this bridge")

// ToCPIM converts a Matrix message to a CPIM message from one address to another. Text, notices and
// emotes become text/plain; an emote is written as "/me …", as IRC-like peers show it.
func ToCPIM(from, to cpim.Address, content *event.MessageEventContent) (*cpim.Message, error) {
	var text string
	switch content.MsgType {
	case event.MsgText, event.MsgNotice:
		text = content.Body
	case event.MsgEmote:
		text = "/me " + content.Body
	default:
		return nil, fmt.Errorf("%w: %s messages", ErrUnsupported, content.MsgType)
	}
	return cpim.NewText(from, to, text), nil
}

// FromCPIM converts an inbound CPIM message to Matrix. Text content becomes m.text; content the
// bridge cannot show yet becomes a notice naming its type, so the user knows something arrived.
func FromCPIM(m *cpim.Message) (*bridgev2.ConvertedMessage, error) {
	content, err := textContent(&m.Content)
	if err != nil {
		return nil, err
	}
	return &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{
		Type:    event.EventMessage,
		Content: content,
	}}}, nil
}

func textContent(c *cpim.Content) (*event.MessageEventContent, error) {
	mediaType := c.Type()
	if mediaType == "" {
		// RFC 2045 §5.2: content without a Content-Type is text/plain; charset=us-ascii.
		mediaType = "text/plain"
	}
	if mediaType != "text/plain" {
		return &event.MessageEventContent{
			MsgType: event.MsgNotice,
			Body:    fmt.Sprintf("(a %s message that this bridge cannot show)", mediaType),
		}, nil
	}
	if cs := strings.ToLower(c.TypeParams()["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return nil, fmt.Errorf("%w: charset %q (only UTF-8 text is accepted)", ErrUnsupported, cs)
	}
	if !utf8.Valid(c.Body) {
		return nil, fmt.Errorf("text/plain body is not valid UTF-8")
	}
	body := strings.ReplaceAll(string(c.Body), "\r\n", "\n")
	if strings.HasPrefix(body, "/me ") {
		return &event.MessageEventContent{MsgType: event.MsgEmote, Body: body[len("/me "):]}, nil
	}
	return &event.MessageEventContent{MsgType: event.MsgText, Body: body}, nil
}
