package cpim

import (
	"strings"
	"unicode/utf8"
)

// String returns the address in the wire form of RFC 3862 §4.1:
// Formal-name = 1*( Token SP ) / String, directly followed by "<" URI ">".
// A name made of Tokens separated by single spaces is written as such
// ("Winnie the Pooh <im:pooh@100akerwood.com>"); any other name becomes a
// String with the escapes of §2.3.1 and, as the grammar demands, no space
// before "<" ("\"Smith, John\"<im:john@example.com>").
func (a Address) String() string {
	return string(a.appendTo(make([]byte, 0, len(a.Name)+len(a.URI)+5)))
}

func (a Address) appendTo(b []byte) []byte {
	if a.Name != "" {
		if tokenList(a.Name) {
			b = append(b, a.Name...)
			b = append(b, ' ')
		} else {
			b = append(b, '"')
			b = appendEscaped(b, a.Name, '"')
			b = append(b, '"')
		}
	}
	b = append(b, '<')
	b = appendRaw(b, a.URI)
	return append(b, '>')
}

// tokenList reports whether s is 1*Token separated by single spaces.
func tokenList(s string) bool {
	for {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			return validToken(s)
		}
		if !validToken(s[:i]) {
			return false
		}
		s = s[i+1:]
	}
}

// ParseAddress parses the value of a From, To or cc header, or of any
// extension header with the same syntax (e.g. RFC 5438 Original-To),
// strictly as RFC 3862 §4.1 defines it.
func ParseAddress(s string) (Address, error) {
	a, msg := parseAddress(s, false)
	if msg != "" {
		return Address{}, &SyntaxError{Line: 1, Msg: msg}
	}
	return a, nil
}

// parseAddress parses [ Formal-name ] "<" URI ">". Strictly this is the
// grammar of RFC 3862 §4.1; leniently it also accepts the forms deployed
// peers send: a space between a String and "<", no space between a Token
// and "<", other separators in an unquoted name, surrounding whitespace
// and a bare absolute URI without angle brackets.
func parseAddress(v string, lenient bool) (Address, string) {
	if lenient {
		return parseAddressLenient(v)
	}
	var a Address
	i := 0
	switch {
	case v == "":
		return a, "empty address"
	case v[0] == '"':
		end, msg := stringEnd(v, false)
		if msg != "" {
			return a, msg
		}
		a.Name = Unescape(v[1:end])
		i = end + 1
		if i == len(v) || v[i] != '<' {
			return a, "Formal-name string must be followed directly by \"<\""
		}
	case v[0] != '<':
		for {
			j := i
			for j < len(v) && isTokenChar(v[j]) {
				j++
			}
			if j == i || j == len(v) || v[j] != ' ' {
				return a, "malformed Formal-name (want Tokens each followed by one SP, or a quoted String, then \"<\")"
			}
			i = j + 1
			if i < len(v) && v[i] == '<' {
				break
			}
		}
		a.Name = v[:i-1]
		if !utf8.ValidString(a.Name) {
			return a, "Formal-name is not valid UTF-8"
		}
	}
	if v[len(v)-1] != '>' {
		return a, "address does not end with \">\""
	}
	a.URI = v[i+1 : len(v)-1]
	if msg := checkURI(a.URI, false); msg != "" {
		return a, msg
	}
	return a, ""
}

func parseAddressLenient(v string) (Address, string) {
	var a Address
	v = trimWS(v)
	rest := v
	switch {
	case v == "":
		return a, "empty address"
	case v[0] == '"':
		end, msg := stringEnd(v, true)
		if msg != "" {
			return a, msg
		}
		a.Name = Unescape(v[1:end])
		rest = trimWS(v[end+1:])
	default:
		lt := strings.IndexByte(v, '<')
		if lt < 0 {
			if strings.ContainsAny(v, " \t") || checkURI(v, true) != "" {
				return a, "address has no <URI>"
			}
			a.URI = repairURI(v)
			return a, ""
		}
		a.Name = Unescape(trimWS(v[:lt]))
		rest = v[lt:]
	}
	if !utf8.ValidString(a.Name) {
		return a, "Formal-name is not valid UTF-8"
	}
	if rest == "" || rest[0] != '<' {
		return a, "address has no <URI>"
	}
	gt := strings.IndexByte(rest, '>')
	if gt < 0 {
		return a, "missing \">\" after URI"
	}
	if trimWS(rest[gt+1:]) != "" {
		return a, "text after \">\" in address"
	}
	a.URI = trimWS(rest[1:gt])
	if msg := checkURI(a.URI, true); msg != "" {
		return a, msg
	}
	a.URI = repairURI(a.URI)
	return a, ""
}

// stringEnd returns the index of the DQUOTE closing the String that starts
// at s[0] (RFC 3862 §3.6). Strictly, the characters inside must be
// Str-char or escapes that §2.3.1 allows.
func stringEnd(s string, lenient bool) (int, string) {
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			if !lenient {
				if msg := checkEscapes(s[1:i]); msg != "" {
					return 0, msg
				}
			}
			return i, ""
		case c == '\\':
			i++
		case isCTL(c):
			return 0, "control character in quoted string"
		}
	}
	return 0, "unterminated quoted string"
}

// repairURI percent-encodes what a leniently accepted URI has that an
// absolute URI may not: non-ASCII octets (as RFC 3987 §3.1 maps an IRI to
// a URI), a "%" not starting an escape, and other characters RFC 3986
// excludes.
func repairURI(s string) string {
	n := schemeLen(s)
	if checkURI(s, false) == "" || n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+8)
	b = append(b, s[:n+1]...)
	for i := n + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, c)
		case class[c]&cURI == 0 || c == '%':
			b = append(b, '%', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

// checkURI checks that s is an absolute URI (RFC 3862 §3.6 refers to RFC
// 2396 absoluteURI; RFC 3986 absolute-URI is the same set): a scheme,
// ":", and only URI characters with well-formed percent-encoding; no
// fragment. Leniently any character but whitespace, controls, "<", ">"
// and DQUOTE may follow the scheme.
func checkURI(s string, lenient bool) string {
	n := schemeLen(s)
	if n == 0 {
		return "URI has no scheme"
	}
	for i := n + 1; i < len(s); i++ {
		c := s[i]
		if lenient {
			switch {
			case isCTL(c) || c == ' ' || c == '<' || c == '>' || c == '"':
				return "invalid character " + quoteByte(c) + " in URI"
			case c == '#':
				return "URI has a fragment"
			}
			continue
		}
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "malformed percent-encoding in URI"
			}
			i += 2
		case class[c]&cURI == 0:
			if c == '#' {
				return "URI has a fragment"
			}
			return "invalid character " + quoteByte(c) + " in URI"
		}
	}
	if lenient && !utf8.ValidString(s) {
		return "URI is not valid UTF-8"
	}
	return ""
}

// schemeLen returns the length of the URI scheme at the start of s
// (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) followed by ":"), or 0.
func schemeLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return i
		default:
			return 0
		}
	}
	return 0
}

func isHex(c byte) bool { _, ok := unhex(c); return ok }

func quoteByte(c byte) string {
	if c < 0x20 || c >= 0x7f {
		const hex = "0123456789ABCDEF"
		return string([]byte{'0', 'x', hex[c>>4], hex[c&15]})
	}
	return "'" + string(rune(c)) + "'"
}

// trimWS removes leading and trailing SP and HTAB.
func trimWS(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}
