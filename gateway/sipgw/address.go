package sipgw

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

// sipURIFor maps the URI of a CPIM address to the SIP URI of the same user at the same domain, for
// the SIP From and To of a request (RFC 3428 §5: they SHOULD be SIP or SIPS URIs): im:alice@d and
// sip:alice@d:5070;transport=tcp both become sip:alice@d, and sips: stays sips:.
func sipURIFor(s string) (sip.Uri, error) {
	u, err := cpim.ParseURI(s)
	if err != nil {
		return sip.Uri{}, fmt.Errorf("address %q: %w", s, err)
	}
	user, domain, ok := u.Mailbox()
	if !ok {
		return sip.Uri{}, fmt.Errorf("address %q names no user@domain", s)
	}
	scheme := "sip"
	if u.Scheme == "sips" {
		scheme = "sips"
	}
	return sip.Uri{Scheme: scheme, User: escapeUser(user), Host: domain}, nil
}

// imURIFor maps a SIP or SIPS URI of a request's From or To to the im: URI of the same user at the
// same host (RFC 3860 §3.2), for wrapping a text/plain MESSAGE in CPIM.
func imURIFor(u *sip.Uri) (string, error) {
	if u.Scheme != "sip" && u.Scheme != "sips" {
		return "", fmt.Errorf("%s is not a SIP URI", u.String())
	}
	user, err := url.PathUnescape(u.User)
	if err != nil || user == "" || u.Host == "" {
		return "", fmt.Errorf("%s is not of the form user@host", u.String())
	}
	return (&cpim.URI{Scheme: "im", User: user, Domain: strings.ToLower(u.Host)}).String(), nil
}

// escapeUser percent-encodes what RFC 3261 §25.1 does not allow in the user part of a SIP URI:
// anything but unreserved characters and user-unreserved "&=+$,;?/".
func escapeUser(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUserChar(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func isUserChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.!~*'()&=+$,;?/", c) >= 0
}

// quoteDisplayName makes a name fit between the quotes of a SIP display-name (RFC 3261 §25.1
// quoted-string), which sipgo writes as given: backslash and quote get a backslash, and line
// breaks and other controls, which a quoted-pair cannot carry, become spaces.
func quoteDisplayName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unquoteDisplayName undoes the quoted-pairs that sipgo leaves in a parsed display-name.
func unquoteDisplayName(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
