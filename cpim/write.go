package cpim

import "io"

// AppendTo appends the message in wire form to b and returns the result:
// the message headers (the merged list described at Message), a blank
// line, then the content, all lines ending in CRLF. This is the body SIP
// MESSAGE, MSRP and HTTP carry with Content-Type message/cpim.
//
// The output is conformant to RFC 3862 whenever Validate reports no
// error. Whatever the fields hold, every header stays on one line:
// control characters are escaped, invalid UTF-8 is replaced and octets
// that cannot appear in a name are replaced by "-".
func (m *Message) AppendTo(b []byte) []byte {
	m.walk(func(it item) { b = m.appendItem(b, it) })
	b = append(b, '\r', '\n')
	return m.Content.appendTo(b)
}

// Bytes returns the wire form of AppendTo in a new slice.
func (m *Message) Bytes() []byte {
	return m.AppendTo(make([]byte, 0, m.sizeHint()))
}

// mimePrefix is the MIME header section WriteMIME writes (RFC 3862 §2.1,
// §7.1: message/cpim takes no parameters).
const mimePrefix = "Content-Type: message/cpim\r\n\r\n"

// WriteMIME writes the message as a complete MIME entity, as in the RFC
// 3862 §5 examples and as a multipart body part needs it:
// "Content-Type: message/cpim", a blank line, then the AppendTo form.
func (m *Message) WriteMIME(w io.Writer) error {
	b := make([]byte, 0, len(mimePrefix)+m.sizeHint())
	b = append(b, mimePrefix...)
	_, err := w.Write(m.AppendTo(b))
	return err
}

// sizeHint estimates the length of the wire form, so that it is built in
// one allocation.
func (m *Message) sizeHint() int {
	n := 2 + len(m.Content.Body) + 2
	for i := range m.Headers {
		h := &m.Headers[i]
		n += len(h.Prefix) + len(h.Name) + len(h.Value) + 5
		for _, p := range h.Params {
			n += len(p.Name) + len(p.Value) + 2
		}
	}
	n += len(m.From.Name) + len(m.From.URI) + 16
	for _, a := range m.To {
		n += len(a.Name) + len(a.URI) + 16
	}
	for _, a := range m.Cc {
		n += len(a.Name) + len(a.URI) + 16
	}
	for _, s := range m.Subject {
		n += len(s.Lang) + len(s.Value) + 20
	}
	for _, d := range m.NS {
		n += len(d.Prefix) + len(d.URI) + 10
	}
	for _, r := range m.Require {
		n += len(r) + 11
	}
	for _, f := range m.Content.Header {
		n += len(f.Name) + len(f.Value) + 4
	}
	return n + 48
}

func (m *Message) appendItem(b []byte, it item) []byte {
	if h := it.h; h != nil {
		b = appendName(b, h.Prefix, h.Name)
		b = append(b, ':')
		for _, p := range h.Params {
			b = append(b, ';')
			b = appendName(b, "", p.Name)
			b = append(b, '=')
			b = appendRaw(b, p.Value)
		}
		b = append(b, ' ')
		b = appendRaw(b, h.Value)
		return append(b, '\r', '\n')
	}
	b = appendName(b, it.prefix, coreNames[it.kind])
	b = append(b, ':')
	if it.kind == kSubject && m.Subject[it.idx].Lang != "" {
		b = append(b, ";lang="...)
		b = appendRaw(b, m.Subject[it.idx].Lang)
	}
	b = append(b, ' ')
	b = m.appendTypedValue(b, it)
	return append(b, '\r', '\n')
}

// appendTypedValue appends the Header-value of a generated header.
func (m *Message) appendTypedValue(b []byte, it item) []byte {
	switch it.kind {
	case kFrom:
		return m.From.appendTo(b)
	case kTo:
		return m.To[it.idx].appendTo(b)
	case kCc:
		return m.Cc[it.idx].appendTo(b)
	case kDateTime:
		return appendDateTime(b, m.DateTime)
	case kSubject:
		return appendEscaped(b, m.Subject[it.idx].Value, 0)
	case kNS:
		return appendNS(b, m.NS[it.idx])
	case kRequire:
		for i, r := range m.Require {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendRaw(b, r)
		}
	}
	return b
}

// appendNS appends an NS value with the space before "<" that every
// RFC 3862 example has.
func appendNS(b []byte, d Namespace) []byte {
	if d.Prefix != "" {
		b = appendName(b, "", d.Prefix)
		b = append(b, ' ')
	}
	b = append(b, '<')
	b = appendRaw(b, d.URI)
	return append(b, '>')
}

// appendName appends [prefix "."] name, replacing octets that would end
// the name early or break the line (controls, SP, ":", ";") by "-".
func appendName(b []byte, prefix, name string) []byte {
	if prefix != "" {
		b = appendNamePart(b, prefix)
		b = append(b, '.')
	}
	return appendNamePart(b, name)
}

func appendNamePart(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isCTL(c) || c == ' ' || c == ':' || c == ';' {
			c = '-'
		}
		b = append(b, c)
	}
	return b
}
