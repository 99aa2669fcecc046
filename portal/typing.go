package portal

import (
	"time"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/iscomposing"
)

// TypingRefresh is the refresh interval an outbound active isComposing announces (RFC 3994 §3.3:
// at least 60 s); Matrix clients repeat their typing notice well within it.
const TypingRefresh = iscomposing.MinRefresh

// NewTyping returns the RFC 3994 isComposing message that says whether from is composing a text
// message to to.
func NewTyping(from, to cpim.Address, active bool) (*cpim.Message, error) {
	st := iscomposing.Status{State: iscomposing.StateIdle}
	if active {
		st = iscomposing.Status{State: iscomposing.StateActive, ContentType: "text/plain", Refresh: TypingRefresh}
	}
	doc, err := st.Marshal()
	if err != nil {
		return nil, err
	}
	m := cpim.NewText(from, to, "")
	m.Content = cpim.Content{Header: []cpim.Field{{Name: "Content-Type", Value: iscomposing.ContentType}}, Body: doc}
	return m, nil
}

// typingTimeout reads an isComposing document: how long to show the sender as typing, 0 for idle.
func typingTimeout(c *cpim.Content) (time.Duration, error) {
	st, err := iscomposing.Parse(c.Body)
	if err != nil {
		return 0, err
	}
	return st.Timeout(), nil
}
