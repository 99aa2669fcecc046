// Package portal maps between Matrix and CPIM: which Matrix user is which im: address, which ghost
// and which room stand for a remote contact, and how a Matrix message becomes a CPIM message and
// back. It holds no state and does no I/O; the bridge package wires it to bridgev2 and the gateways.
package portal

import (
	"fmt"
	"strings"

	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

// Addresses maps Matrix users of this bridge's homeserver to im: addresses in the bridge's im: domain
// and back. @alice:<ServerName> is im:alice@<IMDomain>; users of other homeservers have no im:
// address, because their localparts could collide with local ones.
type Addresses struct {
	IMDomain   string
	ServerName string
}

// LocalURI returns the im: URI of a Matrix user of this homeserver.
func (a Addresses) LocalURI(mxid id.UserID) (string, error) {
	localpart, server, err := mxid.Parse()
	if err != nil {
		return "", fmt.Errorf("user ID %q: %w", mxid, err)
	}
	if server != a.ServerName {
		return "", fmt.Errorf("user %s is not on %s, so has no im: address in %s", mxid, a.ServerName, a.IMDomain)
	}
	return "im:" + localpart + "@" + a.IMDomain, nil
}

// LocalUser returns the Matrix user an im: URI in the bridge's domain stands for. The local part must
// be a valid Matrix localpart as it is: mapping others (upper case, quoting) would let two addresses
// reach one user.
func (a Addresses) LocalUser(uri string) (id.UserID, error) {
	u, err := cpim.ParseURI(uri)
	if err != nil {
		return "", err
	}
	if u.Scheme != "im" || !strings.EqualFold(u.Domain, a.IMDomain) {
		return "", fmt.Errorf("%s is not an im: address in %s", uri, a.IMDomain)
	}
	if err := id.ValidateUserLocalpart(u.User); err != nil {
		return "", fmt.Errorf("%s: local part is not a Matrix username: %w", uri, err)
	}
	return id.NewUserID(u.User, a.ServerName), nil
}

// LoginID is the bridgev2 login of a local user: their im: address without the scheme.
func LoginID(localURI string) networkid.UserLoginID {
	return networkid.UserLoginID(strings.TrimPrefix(localURI, "im:"))
}

// GhostID returns the ghost of a remote address: "user@domain" of its mailbox (see cpim.URI.Mailbox),
// so im:bob@example.net, sip:bob@example.net and xmpp:bob@example.net/home are one ghost, who
// answers at im:<GhostID> whatever scheme its gateway wrote.
func GhostID(uri string) (networkid.UserID, error) {
	u, err := cpim.ParseURI(uri)
	if err != nil {
		return "", err
	}
	user, domain, ok := u.Mailbox()
	if !ok {
		return "", fmt.Errorf("%s is not a user@domain address", uri)
	}
	return networkid.UserID(user + "@" + domain), nil
}

// GhostURI is the im: URI of a ghost.
func GhostURI(ghost networkid.UserID) string {
	return "im:" + string(ghost)
}

// ParseIdentifier reads what a user types to start a chat (`start-chat im:bob@example.net`, or just
// bob@example.net) and returns the ghost it names.
func ParseIdentifier(s string) (networkid.UserID, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, ":") {
		s = "im:" + s
	}
	return GhostID(s)
}

// Domain is the domain of a ghost's address.
func Domain(ghost networkid.UserID) string {
	_, domain, _ := strings.Cut(string(ghost), "@")
	return domain
}
