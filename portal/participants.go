package portal

import (
	"fmt"
	"slices"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

// Participants returns everyone a message involves, its sender and every To and cc (RFC 3862 §4.1,
// §4.2, §4.3), as mailboxes in the form of GhostID ("user@domain"), sorted and without duplicates.
// The set is the same whoever of them sends, so it names one conversation: a DM has two
// participants, a group more. An address that names no mailbox (tel:, a bare domain) is an error,
// because the bridge could not answer it.
func Participants(m *cpim.Message) ([]networkid.UserID, error) {
	set := make([]networkid.UserID, 0, 1+len(m.To)+len(m.Cc))
	add := func(header string, a cpim.Address) error {
		p, err := GhostID(a.URI)
		if err != nil {
			return fmt.Errorf("%s: %w", header, err)
		}
		set = append(set, p)
		return nil
	}
	if err := add("From", m.From); err != nil {
		return nil, err
	}
	for _, a := range m.To {
		if err := add("To", a); err != nil {
			return nil, err
		}
	}
	for _, a := range m.Cc {
		if err := add("cc", a); err != nil {
			return nil, err
		}
	}
	slices.Sort(set)
	return slices.Compact(set), nil
}
