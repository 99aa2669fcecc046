package cpim

import (
	"net/url"
	"strings"
)

// Mailbox returns the user and the lower-case domain an address names, and false if it names none.
// For im: and pres: URIs that is their mailbox (RFC 3860 §3); for sip:, sips: and xmpp: URIs the
// user@host part without parameters, headers, port or resource (RFC 3261 §19.1.1, RFC 5122 §2.2),
// because gateways that come from SIP or XMPP write those in From and To, and mean the same person
// as the im: URI with that mailbox (RFC 3922 §4.1.1 maps XMPP addresses so). tel: and other
// schemes name no mailbox.
func (u *URI) Mailbox() (user, domain string, ok bool) {
	switch u.Scheme {
	case "im", "pres":
		return u.User, u.Domain, u.User != "" && u.Domain != ""
	case "sip", "sips":
		rest, _, _ := strings.Cut(u.Opaque, "?")
		rest, _, _ = strings.Cut(rest, ";")
		return splitMailbox(rest, true)
	case "xmpp":
		rest, _, _ := strings.Cut(u.Opaque, "?")
		if strings.HasPrefix(rest, "//") {
			// xmpp://auth@host/node@domain: the account to act as is not the address.
			_, rest, _ = strings.Cut(rest[2:], "/")
		}
		rest, _, _ = strings.Cut(rest, "/")
		return splitMailbox(rest, false)
	}
	return "", "", false
}

func splitMailbox(s string, port bool) (user, domain string, ok bool) {
	i := strings.LastIndexByte(s, '@')
	if i <= 0 {
		return "", "", false
	}
	user, domain = s[:i], s[i+1:]
	if port && !strings.HasPrefix(domain, "[") {
		domain, _, _ = strings.Cut(domain, ":")
	}
	user, err1 := url.PathUnescape(user)
	domain, err2 := url.PathUnescape(domain)
	if err1 != nil || err2 != nil || user == "" || domain == "" || strings.ContainsAny(domain, "@/?#") {
		return "", "", false
	}
	return user, strings.ToLower(domain), true
}
