package portal

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/cpim/iscomposing"
)

// ErrUnsupported is wrapped by conversion errors for Matrix content that has no CPIM form yet; the
// bridge shows them to the user as a failed send.
var ErrUnsupported = fmt.Errorf("not supported by this bridge")

// maxAlternatives bounds the parts read from an inbound multipart/alternative.
const maxAlternatives = 8

// Relation is what an outbound message refers to, by imdn.Message-ID (see docs/extensions.md).
type Relation struct {
	InReplyTo string // the message replied to
	Quote     string // text of the message replied to, quoted in the fallback body
	Replaces  string // the message this one edits
}

// ToCPIM converts a Matrix message to a CPIM message from one address to another. Text, notices and
// emotes become text/plain; an emote is written as "/me …", as IRC-like peers show it. Formatted
// text becomes multipart/alternative with the text/plain part first and the text/html part second
// (RFC 2046 §5.1.4: the richest last). A relation adds its mx header and the fallback that lets a
// peer that ignores the extension still make sense of the message: a quote of the message replied
// to, "✏️ " before an edit.
func ToCPIM(from, to cpim.Address, content *event.MessageEventContent, rel Relation) (*cpim.Message, error) {
	var prefix string
	switch content.MsgType {
	case event.MsgText, event.MsgNotice:
	case event.MsgEmote:
		prefix = "/me "
	default:
		return nil, fmt.Errorf("%w: %s messages", ErrUnsupported, content.MsgType)
	}
	text, rich := content.Body, ""
	if content.Format == event.FormatHTML && content.FormattedBody != "" {
		rich = content.FormattedBody
	}
	if rel.InReplyTo != "" {
		// A client may have written a fallback of its own; ours replaces it.
		text = event.TrimReplyFallbackText(text)
		rich = event.TrimReplyFallbackHTML(rich)
	}
	text = prefix + text
	if rich != "" {
		rich = html.EscapeString(prefix) + rich
	}
	if rel.Replaces != "" {
		text = editMarker + text
		if rich != "" {
			rich = editMarker + rich
		}
	}
	if rel.InReplyTo != "" {
		text = quote(rel.Quote) + "\n\n" + text
		if rich != "" {
			rich = "<mx-reply><blockquote>" + html.EscapeString(clip(rel.Quote, maxQuote)) + "</blockquote></mx-reply>" + rich
		}
	}
	m := cpim.NewText(from, to, text)
	if rich != "" {
		m.Content = alternative(text, rich)
	}
	if rel.InReplyTo != "" {
		m.Add(Namespace, Prefix, HeaderInReplyTo, rel.InReplyTo)
	}
	if rel.Replaces != "" {
		m.Add(Namespace, Prefix, HeaderReplaces, rel.Replaces)
	}
	return m, nil
}

// alternative returns a multipart/alternative content of text and its HTML form.
func alternative(text, rich string) cpim.Content {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for _, p := range []struct{ ctype, body string }{{"text/plain; charset=utf-8", text}, {"text/html; charset=utf-8", rich}} {
		// Writes to a bytes.Buffer do not fail; the writer's boundary is 240 random bits, which
		// text does not contain by chance.
		part, _ := w.CreatePart(map[string][]string{"Content-Type": {p.ctype}})
		_, _ = io.WriteString(part, p.body)
	}
	_ = w.Close()
	return cpim.Content{
		Header: []cpim.Field{{Name: "Content-Type", Value: mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": w.Boundary()})}},
		Body:   body.Bytes(),
	}
}

// Incoming is what an inbound CPIM message means in Matrix.
type Incoming struct {
	Kind Kind
	// Target is the imdn.Message-ID of the message edited (KindEdit), reacted to (KindReaction) or
	// deleted (KindDeletion).
	Target string
	// InReplyTo is the imdn.Message-ID of the message a KindMessage answers, if any.
	InReplyTo string
	// Reaction is the key (an emoji) of a KindReaction.
	Reaction string
	// ReactionTo is, for a KindDeletion that withdraws a reaction, the message reacted to.
	ReactionTo string
	// Content is the Matrix content of a KindMessage or KindEdit, without the fallback.
	Content *event.MessageEventContent
	// Typing is, for a KindTyping, how long to show the sender as typing; 0 means it stopped.
	Typing time.Duration
	// Notifications are the RFC 5438 notifications of a KindNotification.
	Notifications []imdn.Notification
	// Media is the file of a KindMessage that carries one; Content then has no URL yet.
	Media *Media
}

// Kind is the kind of an Incoming.
type Kind int

// The kinds of inbound messages.
const (
	KindMessage Kind = iota
	KindEdit
	KindReaction
	KindDeletion
	KindTyping       // an RFC 3994 isComposing status
	KindNotification // an RFC 5438 IMDN (see receipts.go)
)

// FromCPIM converts an inbound CPIM message to Matrix. Text content becomes m.text, HTML a
// formatted m.text sanitized to the Matrix allow-list (SanitizeHTML); content the bridge cannot
// show yet becomes a notice naming its type, so the user knows something arrived; an RFC 3994
// isComposing status is a KindTyping, an RFC 5438 IMDN a KindNotification. The mx headers
// of docs/extensions.md make it an edit, a reaction or a deletion, and the fallback is removed.
func FromCPIM(m *cpim.Message) (*Incoming, error) {
	in := &Incoming{Kind: KindMessage}
	if m.Content.Type() == iscomposing.ContentType {
		timeout, err := typingTimeout(&m.Content)
		if err != nil {
			return nil, err
		}
		in.Kind, in.Typing = KindTyping, timeout
		return in, nil
	}
	if imdn.IsNotification(m) {
		ns, err := notifications(m)
		if err != nil {
			return nil, err
		}
		in.Kind, in.Notifications = KindNotification, ns
		return in, nil
	}
	refs := map[string]string{}
	for _, name := range []string{HeaderInReplyTo, HeaderReplaces, HeaderReactionTo, HeaderDeletes} {
		if v, ok := m.Get(Namespace, name); ok {
			if err := imdn.CheckMessageID(v); err != nil {
				return nil, fmt.Errorf("%s.%s: %w", Prefix, name, err)
			}
			refs[name] = v
		}
	}
	switch {
	case refs[HeaderDeletes] != "":
		// A withdrawn reaction names the message it was on as well (docs/extensions.md).
		in.Kind, in.Target, in.ReactionTo = KindDeletion, refs[HeaderDeletes], refs[HeaderReactionTo]
		return in, nil
	case refs[HeaderReactionTo] != "":
		key, _ := m.Get(Namespace, HeaderReaction)
		key = cpim.Unescape(key)
		if key == "" || len(key) > maxReactionKey {
			return nil, fmt.Errorf("%s.%s needs a %s.%s of 1 to %d bytes", Prefix, HeaderReactionTo, Prefix, HeaderReaction, maxReactionKey)
		}
		in.Kind, in.Target, in.Reaction = KindReaction, refs[HeaderReactionTo], key
		return in, nil
	case refs[HeaderReplaces] != "":
		in.Kind, in.Target = KindEdit, refs[HeaderReplaces]
	default:
		in.InReplyTo = refs[HeaderInReplyTo]
	}
	if ok, err := in.withMedia(&m.Content); err != nil {
		return nil, err
	} else if ok {
		return in, nil
	}
	content, err := messageContent(&m.Content)
	if err != nil {
		return nil, err
	}
	if in.InReplyTo != "" {
		content.Body = stripQuote(content.Body)
	}
	if in.Kind == KindEdit {
		content.Body = strings.TrimPrefix(content.Body, editMarker)
		content.FormattedBody = strings.TrimPrefix(content.FormattedBody, editMarker)
	}
	in.Content = content
	return in, nil
}

// messageContent converts text/plain, text/html and a multipart/alternative of them.
func messageContent(c *cpim.Content) (*event.MessageEventContent, error) {
	mediaType := c.Type()
	if mediaType == "" {
		// RFC 2045 §5.2: content without a Content-Type is text/plain; charset=us-ascii.
		mediaType = "text/plain"
	}
	var text, rich string
	var err error
	switch mediaType {
	case "text/plain":
		text, err = decodeText(c.TypeParams(), c.Body)
	case "text/html":
		rich, err = decodeText(c.TypeParams(), c.Body)
	case "multipart/alternative":
		text, rich, err = alternatives(c.TypeParams()["boundary"], c.Body)
	default:
		return &event.MessageEventContent{
			MsgType: event.MsgNotice,
			Body:    fmt.Sprintf("(a %s message that this bridge cannot show)", mediaType),
		}, nil
	}
	if err != nil {
		return nil, err
	}
	content := &event.MessageEventContent{MsgType: event.MsgText}
	if rich != "" {
		content.Format = event.FormatHTML
		content.FormattedBody = SanitizeHTML(rich)
		if text == "" {
			text = format.HTMLToText(content.FormattedBody)
		}
	}
	content.Body = text
	if strings.HasPrefix(text, "/me ") {
		content.MsgType, content.Body = event.MsgEmote, text[len("/me "):]
		content.FormattedBody = strings.TrimPrefix(content.FormattedBody, "/me ")
	}
	return content, nil
}

// alternatives reads the text/plain and text/html parts of a multipart/alternative body; the last
// of each type wins (RFC 2046 §5.1.4), parts of other types are skipped.
func alternatives(boundary string, body []byte) (text, rich string, err error) {
	if boundary == "" {
		return "", "", errors.New("multipart/alternative without boundary")
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	for i := 0; ; i++ {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		} else if err != nil {
			return "", "", fmt.Errorf("multipart/alternative part %d: %w", i+1, err)
		}
		if i == maxAlternatives {
			return "", "", fmt.Errorf("multipart/alternative with more than %d parts", maxAlternatives)
		}
		mt, params, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			mt, params = "text/plain", nil // RFC 2045 §5.2
		}
		if mt != "text/plain" && mt != "text/html" {
			continue
		}
		if enc := strings.ToLower(p.Header.Get("Content-Transfer-Encoding")); enc != "" && enc != "7bit" && enc != "8bit" && enc != "binary" {
			return "", "", fmt.Errorf("%w: multipart/alternative part %d in Content-Transfer-Encoding %s", ErrUnsupported, i+1, enc)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return "", "", fmt.Errorf("multipart/alternative part %d: %w", i+1, err)
		}
		s, err := decodeText(params, b)
		if err != nil {
			return "", "", fmt.Errorf("multipart/alternative part %d: %w", i+1, err)
		}
		if mt == "text/plain" {
			text = s
		} else {
			rich = s
		}
	}
	if text == "" && rich == "" {
		return "", "", fmt.Errorf("%w: multipart/alternative without a text/plain or text/html part", ErrUnsupported)
	}
	return text, rich, nil
}

// decodeText checks the charset of a text part and normalizes its line breaks.
func decodeText(params map[string]string, body []byte) (string, error) {
	if cs := strings.ToLower(params["charset"]); cs != "" && cs != "utf-8" && cs != "us-ascii" {
		return "", fmt.Errorf("%w: charset %q (only UTF-8 text is accepted)", ErrUnsupported, cs)
	}
	if !utf8.Valid(body) {
		return "", fmt.Errorf("text body is not valid UTF-8")
	}
	return strings.ReplaceAll(string(body), "\r\n", "\n"), nil
}
