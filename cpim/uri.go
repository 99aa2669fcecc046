package cpim

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// URI is a parsed URI. For the im: scheme (RFC 3860 App. A) and the pres:
// scheme with the same syntax (RFC 3859 §3.2), User, Domain and Headers
// are set, percent-decoded. Any other absolute URI (sip:, sips:, tel:,
// xmpp:, ...) is kept in Opaque, everything after the scheme's colon.
type URI struct {
	Scheme  string  // lower case
	User    string  // local-part of the mailbox, decoded; a quoted local-part keeps its quotes
	Domain  string  // domain of the mailbox, decoded, lower case
	Headers []Param // the ?hname=hvalue&... pairs, decoded
	Opaque  string  // for other schemes, percent-encoding normalized
}

// URIError reports a URI that ParseURI rejects.
type URIError struct {
	URI string
	Msg string
}

func (e *URIError) Error() string {
	return "cpim: invalid URI " + strconv.Quote(e.URI) + ": " + e.Msg
}

// ParseURI parses s. An im: or pres: URI is validated strictly against
// RFC 3860 App. A.2 (IM-URI = "im:" [ to ] [ headers ], mailto-style):
// "to" must be an RFC 5322 addr-spec (dot-atom or quoted local-part, "@",
// a host name or domain literal; UTF-8 only percent-encoded), and headers
// hname=hvalue pairs. Other schemes are accepted as opaque absolute URIs:
// RFC 3986 characters, well-formed percent-encoding, no fragment.
func ParseURI(s string) (*URI, error) {
	u, msg := parseURI(s)
	if msg != "" {
		return nil, &URIError{URI: s, Msg: msg}
	}
	return u, nil
}

func parseURI(s string) (*URI, string) {
	n := schemeLen(s)
	if n == 0 {
		return nil, "no scheme"
	}
	u := &URI{Scheme: strings.ToLower(s[:n])}
	rest := s[n+1:]
	if u.Scheme != "im" && u.Scheme != "pres" {
		if rest == "" {
			return nil, "nothing after the scheme"
		}
		if msg := checkURI(s, false); msg != "" {
			return nil, msg
		}
		u.Opaque = normalizePct(rest)
		return u, ""
	}
	to, hdrs, hasHeaders := strings.Cut(rest, "?")
	if msg := checkURI(s, false); msg != "" {
		return nil, msg
	}
	if to != "" {
		mailbox, ok := pctDecode(to)
		if !ok || !utf8.ValidString(mailbox) {
			return nil, "mailbox is not percent-encoded UTF-8"
		}
		at := strings.LastIndexByte(mailbox, '@')
		if at < 0 {
			return nil, "mailbox has no \"@domain\""
		}
		u.User, u.Domain = mailbox[:at], mailbox[at+1:]
		if !validLocalPart(u.User) {
			return nil, "invalid local-part " + strconv.Quote(u.User)
		}
		if !validDomain(u.Domain) {
			return nil, "invalid domain " + strconv.Quote(u.Domain)
		}
		u.Domain = strings.ToLower(u.Domain)
	}
	if hasHeaders {
		for _, h := range strings.Split(hdrs, "&") {
			name, value, ok := strings.Cut(h, "=")
			if !ok {
				return nil, "header " + strconv.Quote(h) + " has no \"=\""
			}
			dn, ok1 := pctDecode(name)
			dv, ok2 := pctDecode(value)
			if !ok1 || !ok2 {
				return nil, "malformed percent-encoding in headers"
			}
			u.Headers = append(u.Headers, Param{Name: dn, Value: dv})
		}
	}
	return u, ""
}

// pctDecode decodes %XX escapes; checkURI has already validated them.
func pctDecode(s string) (string, bool) {
	if strings.IndexByte(s, '%') < 0 {
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), true
}

// validLocalPart reports whether s is an RFC 5322 local-part without
// obsolete syntax: a dot-atom or a quoted-string, with UTF-8 allowed as
// RFC 6532 does.
func validLocalPart(s string) bool {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		for i := 1; i < len(s)-1; i++ {
			switch c := s[i]; {
			case c == '\\':
				i++
				if i == len(s)-1 || s[i] < 0x20 && s[i] != '\t' || s[i] == 0x7f {
					return false
				}
			case c == '"' || c < 0x20 && c != '\t' || c == 0x7f:
				return false
			}
		}
		return true
	}
	for _, atom := range strings.Split(s, ".") {
		if atom == "" {
			return false
		}
		for i := 0; i < len(atom); i++ {
			c := atom[i]
			if c < 0x80 && class[c]&cUnres == 0 && strings.IndexByte("!#$%&'*+/=?^`{|}~", c) < 0 {
				return false
			}
		}
	}
	return true
}

// validDomain reports whether s is a host name (labels of letters, digits
// and inner hyphens, or UTF-8 for internationalized names) or a domain
// literal in brackets.
func validDomain(s string) bool {
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		for i := 1; i < len(s)-1; i++ {
			if c := s[i]; c <= ' ' || c >= 0x7f || c == '[' || c == ']' || c == '\\' {
				return false
			}
		}
		return len(s) > 2
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if c < 0x80 && !('a' <= c|0x20 && c|0x20 <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// String returns the URI normalized (RFC 3986 §6.2.2): scheme and domain
// in lower case, and percent-encoding used exactly where needed, with
// upper-case hex digits.
func (u *URI) String() string {
	if u.Scheme != "im" && u.Scheme != "pres" {
		return u.Scheme + ":" + u.Opaque
	}
	b := make([]byte, 0, len(u.Scheme)+len(u.User)+len(u.Domain)+8)
	b = append(b, u.Scheme...)
	b = append(b, ':')
	if u.User != "" || u.Domain != "" {
		b = appendPct(b, u.User, "!$&'*+,;=/:")
		b = append(b, '@')
		b = appendPct(b, u.Domain, "[]:")
	}
	for i, h := range u.Headers {
		if i == 0 {
			b = append(b, '?')
		} else {
			b = append(b, '&')
		}
		b = appendPct(b, h.Name, "!$'()*+,;:@/?")
		b = append(b, '=')
		b = appendPct(b, h.Value, "!$'()*+,;:@/?")
	}
	return string(b)
}

// Address returns "user@domain" for an im: or pres: URI with a mailbox,
// else "".
func (u *URI) Address() string {
	if u.Scheme != "im" && u.Scheme != "pres" || u.Domain == "" {
		return ""
	}
	return u.User + "@" + u.Domain
}

// appendPct appends s with every octet percent-encoded except unreserved
// characters and those in keep.
func appendPct(b []byte, s, keep string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && (class[c]&cUnres != 0 || strings.IndexByte(keep, c) >= 0) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return b
}

// normalizePct upper-cases the hex digits of percent-encodings and decodes
// those of unreserved characters (RFC 3986 §6.2.2.1, §6.2.2.2).
func normalizePct(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+2 >= len(s) {
			b = append(b, s[i])
			continue
		}
		hi, _ := unhex(s[i+1])
		lo, _ := unhex(s[i+2])
		if c := hi<<4 | lo; class[c]&cUnres != 0 {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[hi], hex[lo])
		}
		i += 2
	}
	return string(b)
}
