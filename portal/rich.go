package portal

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

// Namespace is the CPIM header namespace (RFC 3862 §3.4) of this bridge's extension for replies,
// edits, reactions and deletions, documented in docs/extensions.md. Each header names another
// message by its imdn.Message-ID (RFC 5438 §6.3).
const Namespace = "urn:matrix-cpim:x"

// Prefix is the Name-prefix the bridge binds to Namespace; a peer may use any other.
const Prefix = "mx"

// The headers of Namespace.
const (
	HeaderInReplyTo  = "In-Reply-To" // this message answers that one
	HeaderReplaces   = "Replaces"    // this message is a new version of that one (same sender)
	HeaderReactionTo = "Reaction-To" // this message is a reaction to that one, its key in Reaction
	HeaderReaction   = "Reaction"    // the reaction key, an emoji, escaped as free text (§3.2)
	HeaderDeletes    = "Deletes"     // that message (same sender) is withdrawn
)

const (
	// editMarker starts the fallback body of an edit.
	editMarker = "✏️ "
	// maxQuote bounds the text quoted in fallbacks, in bytes.
	maxQuote = 200
	// maxReactionKey bounds an inbound reaction key; Matrix reaction keys are short emoji.
	maxReactionKey = 64
)

// NewReaction returns the message that reacts with key to the message target. Its body is the
// fallback a peer without the extension shows: `reacted 👍 to "quote"`.
func NewReaction(from, to cpim.Address, target, key, quoted string) *cpim.Message {
	text := "reacted " + key + " to a message"
	if quoted != "" {
		text = "reacted " + key + " to \"" + clip(oneLine(quoted), 60) + "\""
	}
	m := cpim.NewText(from, to, text)
	m.Add(Namespace, Prefix, HeaderReactionTo, target)
	m.Add(Namespace, Prefix, HeaderReaction, cpim.Escape(key))
	return m
}

// NewDeletion returns the message that withdraws the message target. If target was a reaction,
// reactionTo is the message it was on and key its key, so that a peer can find it; both are ""
// otherwise.
func NewDeletion(from, to cpim.Address, target, reactionTo, key string) *cpim.Message {
	text := "deleted a message"
	if reactionTo != "" {
		text = "withdrew the reaction " + key
	}
	m := cpim.NewText(from, to, text)
	m.Add(Namespace, Prefix, HeaderDeletes, target)
	if reactionTo != "" {
		m.Add(Namespace, Prefix, HeaderReactionTo, reactionTo)
	}
	return m
}

// InboundMessageID is the bridgev2 message ID of a message the contact ghost sent with the
// imdn.Message-ID mid: "<ghost>/<mid>". A Message-ID is only trusted to be unique for its sender
// (RFC 5438 §6.3 asks for global uniqueness, which a bridge cannot check), and "/" occurs neither
// in a Message-ID nor in the IDs of outbound messages, which are their Message-IDs, so a contact
// cannot name another's message, nor one the Matrix user sent, as its own.
func InboundMessageID(ghost networkid.UserID, mid string) networkid.MessageID {
	return networkid.MessageID(string(ghost) + "/" + mid)
}

// WireMessageID returns the imdn.Message-ID of a bridged message with bridgev2 ID id sent by
// sender: the ID itself for a message self sent (see InboundMessageID for the others). It returns
// "" for a message that has none, which is one a contact sent without a Message-ID: its ID is the
// gateway's idempotency key.
func WireMessageID(id networkid.MessageID, sender, self networkid.UserID) string {
	if sender == self {
		return string(id)
	}
	mid, ok := strings.CutPrefix(string(id), string(sender)+"/")
	if !ok || strings.Contains(mid, "/") {
		return ""
	}
	return mid
}

// quote writes s as the quoted lines of a reply fallback, "> " before each line.
func quote(s string) string {
	s = clip(strings.TrimSpace(s), maxQuote)
	if s == "" {
		s = "(a message)"
	}
	return "> " + strings.ReplaceAll(s, "\n", "\n> ")
}

// stripQuote removes a reply fallback: the leading "> " lines and the blank line after them. Text
// that does not start that way is left alone.
func stripQuote(s string) string {
	rest := s
	quoted := false
	for strings.HasPrefix(rest, ">") {
		line, after, ok := strings.Cut(rest, "\n")
		if !ok || (line != ">" && !strings.HasPrefix(line, "> ")) {
			return s
		}
		rest, quoted = after, true
	}
	if !quoted {
		return s
	}
	if after, ok := strings.CutPrefix(rest, "\n"); ok {
		return after
	}
	return s
}

// clip shortens s to at most n bytes on a character boundary, marking the cut with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// String names a Kind in logs.
func (k Kind) String() string {
	switch k {
	case KindMessage:
		return "message"
	case KindEdit:
		return "edit"
	case KindReaction:
		return "reaction"
	case KindDeletion:
		return "deletion"
	case KindTyping:
		return "typing"
	case KindNotification:
		return "notification"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}
