package cpim

import (
	"mime"
	"strings"
)

// Get returns the value of the first field of the encapsulated MIME
// headers named name, compared case-insensitively as MIME requires
// (RFC 3862 §2.4). Folding is removed and surrounding whitespace trimmed.
// It returns "" if there is no such field.
func (c *Content) Get(name string) string {
	for i := range c.Header {
		if strings.EqualFold(c.Header[i].Name, name) {
			return unfold(c.Header[i].Value)
		}
	}
	return ""
}

// Set replaces the value of the first field named name (case-insensitive)
// and removes any later ones, or appends a field. Line breaks and other
// control characters except HTAB in value become spaces.
func (c *Content) Set(name, value string) {
	value = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return ' '
		}
		return r
	}, value)
	found := false
	kept := c.Header[:0]
	for _, f := range c.Header {
		if strings.EqualFold(f.Name, name) {
			if found {
				continue
			}
			found = true
			f.Value = value
		}
		kept = append(kept, f)
	}
	clear(c.Header[len(kept):])
	c.Header = kept
	if !found {
		c.Header = append(c.Header, Field{Name: name, Value: value})
	}
}

// Type returns the media type of the content in lower case without
// parameters, e.g. "text/plain", or "" if there is no valid Content-Type.
func (c *Content) Type() string {
	v := c.Get("Content-Type")
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	v = trimWS(v)
	slash := strings.IndexByte(v, '/')
	if slash <= 0 || slash == len(v)-1 || !mimeToken(v[:slash]) || !mimeToken(v[slash+1:]) {
		return ""
	}
	return strings.ToLower(v)
}

// TypeParams returns the parameters of the Content-Type field with
// lower-case names (RFC 2045 §5.1), e.g. {"charset": "utf-8"}, or nil if
// there are none or the field cannot be parsed.
func (c *Content) TypeParams() map[string]string {
	_, params, err := mime.ParseMediaType(c.Get("Content-Type"))
	if err != nil || len(params) == 0 {
		return nil
	}
	return params
}

// mimeToken reports whether s is an RFC 2045 token.
func mimeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?=", c) >= 0 {
			return false
		}
	}
	return s != ""
}

// unfold undoes RFC 5322 §2.2.3 folding (the CRLF goes, the whitespace
// after it stays) and trims surrounding whitespace.
func unfold(v string) string {
	if strings.IndexByte(v, '\n') < 0 {
		return trimWS(v)
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		if c := v[i]; c != '\r' && c != '\n' {
			b.WriteByte(c)
		}
	}
	return trimWS(b.String())
}

// appendTo writes the content: its fields, then, if Body is not nil, the
// blank line and the body octets exactly. A nil Body writes no blank line,
// so that a parsed entity without one (headers only) is reproduced.
func (c *Content) appendTo(b []byte) []byte {
	for i := range c.Header {
		b = appendField(b, &c.Header[i])
	}
	if c.Body != nil {
		b = append(b, "\r\n"...)
		b = append(b, c.Body...)
	}
	return b
}

// appendField writes one MIME header field. A value keeps its folding,
// written with CRLF; a line break not followed by whitespace gets a space
// so that it stays a fold, and other control characters except HTAB
// become spaces: nothing in a value can end the field early.
func appendField(b []byte, f *Field) []byte {
	b = appendFieldName(b, f.Name)
	b = append(b, ':', ' ')
	v := f.Value
	i := 0
	for i < len(v) && (v[i] >= 0x20 && v[i] != 0x7f || v[i] == '\t') {
		i++
	}
	b = append(b, v[:i]...)
	for ; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\r' || c == '\n':
			if c == '\r' && i+1 < len(v) && v[i+1] == '\n' {
				i++
			}
			if i+1 == len(v) {
				continue // a trailing line break would leave an empty fold
			}
			b = append(b, '\r', '\n')
			if v[i+1] != ' ' && v[i+1] != '\t' {
				b = append(b, ' ')
			}
		case c < 0x20 && c != '\t' || c == 0x7f:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return append(b, '\r', '\n')
}

// appendFieldName writes a MIME field name, replacing the octets RFC 5322
// §2.2 forbids there (controls, SP, ":", non-ASCII) with "-".
func appendFieldName(b []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			c = '-'
		}
		b = append(b, c)
	}
	return b
}
