package cpim

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Character classes of RFC 3862 §3.6.
const (
	cName  = 1 << iota // NAMECHAR: US-ASCII except ".", CTLs and SEPARATORS
	cToken             // TOKENCHAR: NAMECHAR, "." and UCS-high (checked as >= 0x80)
	cUnres             // RFC 3986 unreserved
	cURI               // RFC 3986 characters allowed unencoded in an absolute-URI (no "#")
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		var k uint8
		switch {
		case c >= 0x80:
			k = cToken
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			k = cName | cToken | cUnres | cURI
		case strings.IndexByte("!#$%&'*+-^_`|~", byte(c)) >= 0:
			k = cName | cToken
		case c == '.':
			k = cToken
		}
		if strings.IndexByte("-._~", byte(c)) >= 0 {
			k |= cUnres | cURI
		}
		if strings.IndexByte(":/?[]@!$&'()*+,;=%", byte(c)) >= 0 {
			k |= cURI
		}
		t[c] = k
	}
	return
}()

func isNameChar(c byte) bool  { return class[c]&cName != 0 }
func isTokenChar(c byte) bool { return class[c]&cToken != 0 }

// isCTL reports whether c is a control character as defined by RFC 3862
// §3.6 (%x00-1F / %x7F).
func isCTL(c byte) bool { return c < 0x20 || c == 0x7f }

// validName reports whether s is a Name (1*NAMECHAR).
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

// validToken reports whether s is a Token (1*TOKENCHAR) in valid UTF-8.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return utf8.ValidString(s)
}

// Escape returns s with the escapes RFC 3862 §2.3.1 requires outside a
// quoted string: backslash, BS, TAB, LF and CR as \\ \b \t \n \r, other
// control characters as \uXXXX. Nothing else is escaped. Invalid UTF-8 is
// replaced by U+FFFD, since header values must be UTF-8 (§3).
//
// Use it to put free text into an extension header with Message.Add.
func Escape(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; isCTL(c) || c == '\\' || c >= 0x80 {
			return string(appendEscaped(make([]byte, 0, len(s)+8), s, 0))
		}
	}
	return s
}

// appendEscaped appends s escaped per RFC 3862 §2.3.1. A non-zero quote
// means s is the inside of a string delimited by that character, which is
// then escaped too.
func appendEscaped(b []byte, s string, quote byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch {
		case c == '\\':
			b = append(b, '\\', '\\')
		case c == quote && quote != 0:
			b = append(b, '\\', c)
		case isCTL(c):
			b = appendCTLEscape(b, c)
		default:
			b = append(b, c)
		}
		i++
	}
	return b
}

// appendCTLEscape appends the escape RFC 3862 §2.3.1 prescribes for the
// control character c.
func appendCTLEscape(b []byte, c byte) []byte {
	switch c {
	case '\b':
		return append(b, '\\', 'b')
	case '\t':
		return append(b, '\\', 't')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	}
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
}

// Unescape decodes the escapes of RFC 3862 §2.3 in a header value: \\ \"
// \' \b \t \n \r and \uXXXX (any hex case). Following §2.3.1 it is
// forgiving: an unknown escape stands for the character after the
// backslash and a backslash ending the value is dropped. A valid UTF-16
// surrogate pair written as two \u escapes becomes one character; a lone
// surrogate becomes U+FFFD. The result may hold any control character,
// NUL included: callers that hand text on must filter what they cannot
// take.
func Unescape(s string) string {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for i < len(s) {
		if s[i] != '\\' {
			b = append(b, s[i])
			i++
			continue
		}
		if i+1 == len(s) {
			break // §2.3.1: an isolated trailing backslash is ignored
		}
		var r rune
		r, i = nextEscape(s, i)
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// nextEscape decodes the escape whose backslash is s[i], i+1 < len(s), and
// returns the character and the index after the escape.
func nextEscape(s string, i int) (rune, int) {
	switch c := s[i+1]; c {
	case 'b':
		return '\b', i + 2
	case 't':
		return '\t', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 'u':
		r, ok := hex4(s[i+2:])
		if !ok {
			return 'u', i + 2
		}
		if !utf16.IsSurrogate(rune(r)) {
			return rune(r), i + 6
		}
		if r2, ok := hex4Escape(s[i+6:]); ok {
			if p := utf16.DecodeRune(rune(r), rune(r2)); p != utf8.RuneError {
				return p, i + 12
			}
		}
		return utf8.RuneError, i + 6
	default:
		if c < utf8.RuneSelf {
			return rune(c), i + 2
		}
		r, n := utf8.DecodeRuneInString(s[i+1:])
		return r, i + 1 + n
	}
}

// canonEscapes rewrites the escapes of a raw header value into the form
// RFC 3862 §2.3.1 prescribes without changing what it decodes to: a \u
// escape of a non-control becomes the character itself (\" \' \\ for
// those three), of BS, TAB, LF, CR the short form; an unknown escape
// becomes the character after the backslash; a trailing lone backslash
// goes.
func canonEscapes(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			b = append(b, s[i])
			i++
			continue
		}
		if i+1 == len(s) {
			break
		}
		if c := s[i+1]; c == '\\' || c == '"' || c == '\'' {
			b = append(b, '\\', c)
			i += 2
			continue
		}
		var r rune
		r, i = nextEscape(s, i)
		switch {
		case r < 0x80 && isCTL(byte(r)):
			b = appendCTLEscape(b, byte(r))
		case r == '\\' || r == '"' || r == '\'':
			b = append(b, '\\', byte(r))
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return string(b)
}

// hex4 decodes four hex digits at the start of s.
func hex4(s string) (uint16, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r uint16
	for i := 0; i < 4; i++ {
		d, ok := unhex(s[i])
		if !ok {
			return 0, false
		}
		r = r<<4 | uint16(d)
	}
	return r, true
}

// hex4Escape decodes a \uXXXX escape at the start of s.
func hex4Escape(s string) (uint16, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	return hex4(s[2:])
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// checkEscapes reports the first escape in a raw header value that breaks
// a sender MUST of RFC 3862 §2.3.1: an unknown escape, a trailing lone
// backslash, a \u escape of a non-control character ("all other characters
// MUST NOT be represented with an escape") or of BS, TAB, LF, CR (which
// MUST use their short forms).
func checkEscapes(s string) string {
	for i := strings.IndexByte(s, '\\'); i >= 0 && i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if i+1 == len(s) {
			return "backslash at end of header value"
		}
		i++
		switch s[i] {
		case '\\', '"', '\'', 'b', 't', 'n', 'r':
		case 'u':
			r, ok := hex4(s[i+1:])
			if !ok {
				return "\\u escape without four hex digits"
			}
			if r >= 0x20 && r != 0x7f || r == '\b' || r == '\t' || r == '\n' || r == '\r' {
				return "\\u escape of a character that must not be escaped this way (RFC 3862 §2.3.1)"
			}
			i += 4
		default:
			return "unknown escape " + strconv.Quote(s[i-1:i+1])
		}
	}
	return ""
}

// appendRaw appends a raw header value, escaping only what would break the
// line structure or the UTF-8 rule: control characters (RFC 3862 §2.2
// requires the escape mechanism for them) and invalid UTF-8 (replaced by
// U+FFFD). Backslashes are left alone: in a raw value they already start
// escapes.
func appendRaw(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; isCTL(c) || c >= 0x80 {
			return appendRawSlow(b, s)
		}
	}
	return append(b, s...)
}

func appendRawSlow(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 0x80:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		case isCTL(c):
			b = appendCTLEscape(b, c)
		default:
			b = append(b, c)
		}
		i++
	}
	return b
}
