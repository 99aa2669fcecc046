package imdn

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// CheckMessageID reports why id is not a valid Message-ID value, which
// RFC 5438 §10 defines as a CPIM Token (RFC 3862 §3.6): one or more
// characters other than controls, space and the separators
// ( ) < > @ , ; : \ " / [ ] ? = { }.  It returns nil for a valid id.
func CheckMessageID(id string) error {
	if id == "" {
		return errors.New("imdn: empty Message-ID")
	}
	if n := tokenPrefixLen(id); n < len(id) {
		r, _ := utf8.DecodeRuneInString(id[n:])
		return fmt.Errorf("imdn: Message-ID %q: character %q at offset %d is not allowed in a token", id, r, n)
	}
	return nil
}

// NewMessageID returns a fresh Message-ID for an IM or an IMDN.  RFC 5438
// §6.3 asks for globally unique, unguessable values from a
// cryptographically secure generator; the result carries 128 random bits
// as 26 characters of [A-Z2-7].
func NewMessageID() string {
	return rand.Text()
}

// EncodeMessageID maps an arbitrary non-empty string, such as a Matrix
// event ID, to a Message-ID, so that the ID of a bridged message can be
// derived again instead of stored.  The mapping is deterministic and
// reversible by [DecodeMessageID]:
//
//   - printable ASCII token characters other than "%" are kept;
//   - every other octet, including "%" and every octet of a non-ASCII
//     character, becomes "%" and two upper-case hex digits.
//
// So "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg" (a room version 4+
// event ID) is unchanged, and "$abc:server/+=" becomes
// "$abc%3Aserver%2F+%3D".  The result is at most three times as long as s.
// It is only as unguessable as s: Matrix event IDs are server-chosen
// random or hash values, which meets the intent of RFC 5438 §6.3.
// Results never collide with [NewMessageID] values when s starts with "$",
// as Matrix event IDs do.
func EncodeMessageID(s string) (string, error) {
	if s == "" {
		return "", errors.New("imdn: cannot encode an empty string as a Message-ID")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '%' && isTokenByte(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String(), nil
}

// DecodeMessageID reverses [EncodeMessageID].  It accepts only the exact
// output of EncodeMessageID, so that every decodable id has one source.
func DecodeMessageID(id string) (string, error) {
	if id == "" {
		return "", errors.New("imdn: empty Message-ID")
	}
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c == '%':
			if i+2 >= len(id) {
				return "", fmt.Errorf("imdn: Message-ID %q: truncated escape at offset %d", id, i)
			}
			v, ok := unhexUpper(id[i+1], id[i+2])
			if !ok || (v != '%' && isTokenByte(v)) {
				return "", fmt.Errorf("imdn: Message-ID %q: invalid escape %q at offset %d", id, id[i:i+3], i)
			}
			b.WriteByte(v)
			i += 2
		case isTokenByte(c):
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("imdn: Message-ID %q: octet %#02x at offset %d was not produced by EncodeMessageID", id, c, i)
		}
	}
	return b.String(), nil
}

func unhexUpper(hi, lo byte) (byte, bool) {
	h, ok1 := hexVal(hi)
	l, ok2 := hexVal(lo)
	return h<<4 | l, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isTokenByte reports whether c is an ASCII TOKENCHAR (RFC 3862 §3.6):
// NAMECHAR or ".".
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '!', '#' <= c && c <= '\'', c == '*', c == '+', c == '-', c == '.',
		'^' <= c && c <= '`', c == '|', c == '~':
		return true
	}
	return false
}

// tokenPrefixLen returns the length of the longest prefix of s made of
// TOKENCHARs: ASCII token characters and well-formed UTF-8 sequences of
// non-ASCII characters (UCS-high).
func tokenPrefixLen(s string) int {
	i := 0
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if !isTokenByte(c) {
				break
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError {
			break
		}
		i += size
	}
	return i
}

func isToken(s string) bool {
	return s != "" && tokenPrefixLen(s) == len(s)
}
