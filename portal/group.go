package portal

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

// A group conversation is a message with more than two Participants (RFC 3862 §4.2, §4.3: several
// To and cc headers). CPIM has no group identifier, so the participant set is the group: every
// message among the same people is the same conversation, whoever sends it, and a message among
// other people is another conversation. See docs/groups.md.

// groupPrefix starts the portal ID of a group; a DM's portal ID is a ghost ID, which has no ":".
const groupPrefix = "group:"

// MaxGroupID bounds the length of a group's portal ID in bytes, so that it fits the database
// indexes that hold it (PostgreSQL's B-tree entries take at most about 2.7 KB).
const MaxGroupID = 2048

// MaxRoomName bounds a room name taken from a Subject, in bytes.
const MaxRoomName = 255

// ErrGroupTooLarge is wrapped by GroupID for a participant set whose portal ID would be longer than
// MaxGroupID.
var ErrGroupTooLarge = errors.New("too many participants")

// GroupID returns the portal ID of the group of set, a list as Participants returns it:
// "group:" and the participants separated by spaces. The ID is the set itself rather than a hash
// of it, so that the bridge can tell the members of a group from its ID alone. Every participant
// must be an address the bridge can answer at (ghost IDs that are im: URIs as they are), which
// contain no space.
func GroupID(set []networkid.UserID) (networkid.PortalID, error) {
	if len(set) < 3 {
		return "", fmt.Errorf("a group has at least 3 participants, not %d", len(set))
	}
	if !slices.IsSorted(set) {
		return "", errors.New("participants are not sorted")
	}
	n := len(groupPrefix)
	for i, p := range set {
		if i > 0 && set[i-1] == p {
			return "", fmt.Errorf("participant %s is listed twice", p)
		}
		if g, err := GhostID(GhostURI(p)); err != nil || g != p {
			return "", fmt.Errorf("participant %q is not an address this bridge can answer at", p)
		}
		n += len(p) + 1
	}
	if n > MaxGroupID {
		return "", fmt.Errorf("%w: the %d addresses of this group take %d bytes, more than the %d this bridge keeps", ErrGroupTooLarge, len(set), n, MaxGroupID)
	}
	ids := make([]string, len(set))
	for i, p := range set {
		ids[i] = string(p)
	}
	return networkid.PortalID(groupPrefix + strings.Join(ids, " ")), nil
}

// IsGroup reports whether id is a group portal ID (see GroupID).
func IsGroup(id networkid.PortalID) bool {
	rest, ok := strings.CutPrefix(string(id), groupPrefix)
	return ok && rest != ""
}

// GroupMembers returns the participants of a group portal ID, sorted, and false if id is not one.
func GroupMembers(id networkid.PortalID) ([]networkid.UserID, bool) {
	if !IsGroup(id) {
		return nil, false
	}
	var set []networkid.UserID
	for p := range strings.SplitSeq(string(id)[len(groupPrefix):], " ") {
		set = append(set, networkid.UserID(p))
	}
	return set, true
}

// RemoteDomains returns the domains of the participants that are not in the local domain, sorted,
// each once: the gateways a group message from Matrix goes to.
func RemoteDomains(set []networkid.UserID, local string) []string {
	var domains []string
	for _, p := range set {
		if d := Domain(p); !strings.EqualFold(d, local) {
			domains = append(domains, d)
		}
	}
	slices.Sort(domains)
	return slices.Compact(domains)
}

// Recipients returns the To and cc headers of the copy of a group message from sender that goes
// to the gateway of domain: To are the participants in domain, the ones the gateway delivers to,
// and cc everyone else but the sender, so that the set stays the same (RFC 3862 §4.3: cc are
// informational recipients). The bridge's HTTP and SIP bindings address a message to its To only
// (docs/http-binding.md §5, the SIP Request-URI is the first To).
func Recipients(set []networkid.UserID, sender networkid.UserID, domain string) (to, cc []cpim.Address) {
	for _, p := range set {
		switch {
		case p == sender:
		case Domain(p) == domain:
			to = append(to, cpim.Address{URI: GhostURI(p)})
		default:
			cc = append(cc, cpim.Address{URI: GhostURI(p)})
		}
	}
	return to, cc
}

// GroupTransID is the TransID (RFC 3860 §3.1) of the copy of a group message with Message-ID mid
// that goes to domain: "<mid>/<domain>". The copies share the Message-ID, so that a reply names
// the message the same way whichever copy it answers, and each has its own TransID, which
// identifies one operation with one gateway. A Message-ID has no "/" (a CPIM token), so no two
// copies, nor a DM message (whose TransID is its Message-ID), share a TransID.
func GroupTransID(mid, domain string) string {
	return mid + "/" + domain
}

// Subject returns the text of a message's Subject (RFC 3862 §4.5), "" if it has none: the one
// without a language (i-default, §3.3) if there is one, else the first. It is made one line and
// cut to MaxRoomName bytes, since it names a room.
func Subject(m *cpim.Message) string {
	if len(m.Subject) == 0 {
		return ""
	}
	s := m.Subject[0]
	for _, v := range m.Subject {
		if v.Lang == "" {
			s = v
			break
		}
	}
	return clip(oneLine(s.Value), MaxRoomName)
}

// SetSubject makes name, on one line and cut to MaxRoomName bytes, the only Subject of m, or
// removes m's Subjects if name is "".
func SetSubject(m *cpim.Message, name string) {
	m.Subject = nil
	if name = clip(oneLine(name), MaxRoomName); name != "" {
		m.Subject = []cpim.Subject{{Value: name}}
	}
}
