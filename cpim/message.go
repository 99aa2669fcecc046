package cpim

import (
	"errors"
	"strconv"
	"time"
)

// HeaderNamespace is the namespace of the headers RFC 3862 §4 defines
// (From, To, cc, DateTime, Subject, NS, Require) and the default namespace
// a message starts with (RFC 3862 §3.4, §7.1).
const HeaderNamespace = "urn:ietf:params:cpim-headers:"

// Address is the value of a From, To or cc header (RFC 3862 §4.1–§4.3).
type Address struct {
	Name string // Formal-name, unescaped; "" if none
	URI  string // the URI between "<" and ">"
}

// Subject is one Subject header (RFC 3862 §4.5).
type Subject struct {
	Lang  string // Language-tag of ";lang=" (§3.3); "" means i-default
	Value string // the text, unescaped
}

// Namespace is one NS header (RFC 3862 §4.6).
type Namespace struct {
	Prefix string // "" declares the default namespace for later headers
	URI    string
}

// Param is a header parameter (RFC 3862 §3.2), or an hname=hvalue pair of
// an im: or pres: URI (RFC 3860 App. A.2).
type Param struct {
	Name, Value string
}

// Header is one message header as on the wire (RFC 3862 §3).
type Header struct {
	Prefix string  // Name-prefix before the ".", "" if none
	Name   string  // the Name after the prefix
	NS     string  // namespace URI the prefix resolves to; "" if undeclared (lenient parsing only)
	Params []Param // parameters between ":" and SP, values raw
	Value  string  // Header-value, raw: escapes are not decoded
}

// Field is one MIME header field of the encapsulated content. Value is the
// text after the colon and its one conventional space, raw: a folded value
// keeps its CRLF line breaks (use Content.Get for the unfolded value).
type Field struct {
	Name, Value string
}

// Content is the encapsulated MIME entity (RFC 3862 §2.4).
type Content struct {
	Header []Field
	// Body holds the octets after the blank line that ends Header, exactly;
	// a trailing CRLF belongs to it unless the transport's framing says
	// otherwise (§2). A nil Body means the entity has no blank line and no
	// body at all.
	Body []byte
}

// Message is a Message/CPIM object (RFC 3862).
//
// The typed fields hold the headers RFC 3862 §4 defines, decoded; Headers
// holds every header line in wire order, raw, including those. The typed
// fields are authoritative for the headers they represent, Headers for
// everything else and for order and spelling. Serializing (AppendTo, and
// Get, Values, SyncHeaders, CheckRequire, which see the same list) merges
// them:
//
//   - the n-th From, To, cc, DateTime, Subject or NS header in Headers
//     stands for the n-th value of its typed field: it is written as it is
//     if it still decodes to that value, else rewritten from the value in
//     place. Require headers stand for the Require list as a whole.
//   - headers whose typed value was removed are dropped, except a repeated
//     From or DateTime, which the typed fields cannot hold and which are
//     kept as they are.
//   - typed values without a header are inserted after the last header of
//     their kind or, if there is none, before the first header that comes
//     later in the order From, To, cc, DateTime, Subject, NS, Require,
//     extension headers; Require also after the last NS line. In any case
//     before an NS line that changes the default namespace, so that their
//     unprefixed names still mean the RFC 3862 headers.
//   - a header whose name is one of those but whose value does not decode
//     is treated as an extension header.
//
// So a Message built by a caller (Headers empty) is written from its typed
// fields plus the extension headers added with Add and Set, and a parsed
// Message that is not modified is written exactly as it was read. Parsing
// the output of AppendTo yields the same typed fields (DateTime equal as
// by time.Time.Equal), extension headers and content, and a Headers list
// equal to the one SyncHeaders produces.
type Message struct {
	From     Address
	To, Cc   []Address // To and cc headers, in order
	DateTime time.Time // zero if absent
	Subject  []Subject
	NS       []Namespace // declarations, in order
	Require  []string    // Header-names of all Require headers, as written
	Headers  []Header
	Content  Content
}

// NewText returns a message from from to to with text as its
// text/plain; charset=utf-8 content. DateTime is left zero.
func NewText(from, to Address, text string) *Message {
	return &Message{
		From: from,
		To:   []Address{to},
		Content: Content{
			Header: []Field{{Name: "Content-Type", Value: "text/plain; charset=utf-8"}},
			Body:   []byte(text),
		},
	}
}

// Add adds a header with expanded name (ns, name), written as
// prefix.name, and declares prefix for ns with an NS header (RFC 3862
// §3.4) unless it is already bound to ns; prefix "" uses (and if needed
// sets) the default namespace.
//
// value is the raw Header-value: backslashes in it are escapes; use
// Escape to add free text. Control characters are escaped and surrounding
// whitespace removed, so that the header stays one conformant line.
//
// Adding a header RFC 3862 §4 defines (ns HeaderNamespace) updates the
// typed field instead: To, cc, Subject, NS and Require values are
// appended, From and DateTime replaced. A value that does not parse as
// that header is kept as an extension header; Validate reports it.
func (m *Message) Add(ns, prefix, name, value string) {
	value = sanitizeValue(value)
	m.declare(ns, prefix)
	h := Header{Prefix: prefix, Name: name, NS: ns, Value: value}
	if k := coreKind(ns, name); k != kExt {
		from, dt := m.From, m.DateTime
		m.From, m.DateTime = Address{}, time.Time{}
		if decodeCore(m, nil, &h, k, 0, true) == "" {
			if k != kFrom {
				m.From = from
			}
			if k != kDateTime {
				m.DateTime = dt
			}
			return
		}
		m.From, m.DateTime = from, dt
	}
	m.Headers = append(m.Headers, h)
}

// sanitizeValue makes value fit on one conformant header line: control
// characters escaped, invalid UTF-8 replaced, no surrounding whitespace.
func sanitizeValue(value string) string {
	value = trimWS(value)
	for i := 0; i < len(value); i++ {
		if isCTL(value[i]) || value[i] >= 0x80 {
			return string(appendRaw(nil, value))
		}
	}
	return value
}

// declare makes prefix resolve to ns for a header appended to Headers.
func (m *Message) declare(ns, prefix string) {
	cur, ok := lookupPrefix(m.NS, prefix)
	if ok && cur == ns || ns == "" {
		return
	}
	d := Namespace{Prefix: prefix, URI: ns}
	if !ok {
		// A new prefix: the declaration may go anywhere before the header,
		// so it is left to the merge, which puts NS lines first.
		m.NS = append(m.NS, d)
		return
	}
	// Rebinding a prefix or switching the default namespace is positional
	// (§3.4), so the declaration must sit right before the new header.
	m.SyncHeaders()
	if prefix == "" && ns != HeaderNamespace && m.cpimPrefix() == "" {
		// Once the default namespace is another, NS lines can only be
		// named through a prefix bound to ours: keep one.
		p := "cpim"
		for n := 1; ; n++ {
			if _, used := lookupPrefix(m.NS, p); !used {
				break
			}
			p = "cpim" + strconv.Itoa(n)
		}
		m.appendNS(Namespace{Prefix: p, URI: HeaderNamespace})
	}
	m.appendNS(d)
}

// appendNS appends an NS header for d at the end of Headers (and to the
// typed NS list), named so that it resolves to the RFC 3862 NS header.
func (m *Message) appendNS(d Namespace) {
	h := Header{Name: "NS", NS: HeaderNamespace, Value: string(appendNS(nil, d))}
	if def, _ := lookupPrefix(m.NS, ""); def != HeaderNamespace {
		h.Prefix = m.cpimPrefix()
	}
	m.NS = append(m.NS, d)
	m.Headers = append(m.Headers, h)
}

// cpimPrefix returns a prefix bound to HeaderNamespace at the end of the
// headers, or "".
func (m *Message) cpimPrefix() string {
	for i := len(m.NS) - 1; i >= 0; i-- {
		if p := m.NS[i].Prefix; p != "" && m.NS[i].URI == HeaderNamespace {
			if uri, _ := lookupPrefix(m.NS, p); uri == HeaderNamespace {
				return p
			}
		}
	}
	return ""
}

// Set is like Add but replaces all headers with expanded name (ns, name).
// The first of them keeps its position and prefix; the others are
// removed.
func (m *Message) Set(ns, prefix, name, value string) {
	k := coreKind(ns, name)
	switch k {
	case kTo:
		m.To = nil
	case kCc:
		m.Cc = nil
	case kSubject:
		m.Subject = nil
	case kNS:
		m.NS = nil
	case kRequire:
		m.Require = nil
	}
	first := -1
	kept := m.Headers[:0]
	for _, h := range m.Headers {
		if h.NS == ns && h.Name == name {
			if first >= 0 {
				continue
			}
			first = len(kept)
		}
		kept = append(kept, h)
	}
	clear(m.Headers[len(kept):])
	m.Headers = kept
	if first < 0 || k != kExt {
		// A typed header left at first is rewritten in place by the merge.
		m.Add(ns, prefix, name, value)
		return
	}
	m.Headers[first].Params = nil
	m.Headers[first].Value = sanitizeValue(value)
}

// Get returns the raw value of the first header with expanded name
// (ns, name) (RFC 3862 §3.4: prefixes do not matter, "imdn.Message-ID"
// and "foo.Message-ID" are the same header if both prefixes are bound to
// urn:ietf:params:imdn). Names are case-sensitive (§2.2).
func (m *Message) Get(ns, name string) (string, bool) {
	var v string
	found := false
	m.walk(func(it item) {
		if !found {
			if ins, iname := it.names(); ins == ns && iname == name {
				v, found = m.itemValue(it), true
			}
		}
	})
	return v, found
}

// Values returns the raw values of all headers with expanded name
// (ns, name), in order.
func (m *Message) Values(ns, name string) []string {
	var vs []string
	m.walk(func(it item) {
		if ins, iname := it.names(); ins == ns && iname == name {
			vs = append(vs, m.itemValue(it))
		}
	})
	return vs
}

func (m *Message) itemValue(it item) string {
	if it.h != nil {
		return it.h.Value
	}
	return string(m.appendTypedValue(nil, it))
}

// SyncHeaders sets Headers to the merged list AppendTo writes (see
// Message), so that it again lists every header.
func (m *Message) SyncHeaders() {
	var hs []Header
	m.walk(func(it item) {
		if it.h != nil {
			hs = append(hs, *it.h)
			return
		}
		h := Header{Prefix: it.prefix, Name: coreNames[it.kind], NS: HeaderNamespace, Value: m.itemValue(it)}
		if it.kind == kSubject && m.Subject[it.idx].Lang != "" {
			h.Params = []Param{{Name: "lang", Value: m.Subject[it.idx].Lang}}
		}
		hs = append(hs, h)
	})
	m.Headers = hs
}

// CheckRequire checks the Require headers (RFC 3862 §3.5, §4.7): each
// required Header-name is resolved to its expanded name with the NS
// declarations before the Require header, and understood is asked about
// it; the headers of RFC 3862 §4 are understood without asking. It
// returns a *RequireError listing, as written, every name not understood,
// including those with an undeclared prefix.
//
// RFC 3862 does not say what a recipient does then; a gateway should
// fail the delivery (RFC 3860 "failure") rather than drop the requirement.
func (m *Message) CheckRequire(understood func(ns, name string) bool) error {
	var decls []Namespace
	var missing []string
	check := func(hname string) {
		prefix, local, _ := splitHeaderName(hname)
		ns, ok := lookupPrefix(decls, prefix)
		if !ok || coreKind(ns, local) == kExt && !understood(ns, local) {
			missing = append(missing, hname)
		}
	}
	m.walk(func(it item) {
		switch {
		case it.kind == kNS && it.h != nil:
			d, _ := parseNS(it.h.Value, false)
			decls = append(decls, d)
		case it.kind == kNS:
			decls = append(decls, m.NS[it.idx])
		case it.kind == kRequire && it.h != nil:
			requireNames(it.h.Value, false, check)
		case it.kind == kRequire:
			for _, r := range m.Require {
				check(r)
			}
		}
	})
	if missing != nil {
		return &RequireError{Headers: missing}
	}
	return nil
}

// Validate reports whether AppendTo writes a conformant message that
// reads back as m: it parses the wire form strictly (without size limits)
// and compares. The error is the parser's, with line numbers of the wire
// form, or says which field would not survive.
func (m *Message) Validate() error {
	p := Parser{MaxLineLen: -1, MaxHeaders: -1, MaxBody: -1}
	got, err := p.Parse(m.Bytes())
	if err != nil {
		return err
	}
	var want []Header
	m.walk(func(it item) {
		ns, name := it.names()
		want = append(want, Header{Prefix: it.prefix, Name: name, NS: ns})
		if it.h != nil {
			want[len(want)-1].Prefix = it.h.Prefix
		}
	})
	if len(got.Headers) != len(want) {
		return errors.New("cpim: " + strconv.Itoa(len(want)) + " headers are written but " + strconv.Itoa(len(got.Headers)) + " read back")
	}
	for i, h := range got.Headers {
		if w := want[i]; h.Prefix != w.Prefix || h.Name != w.Name || h.NS != w.NS {
			return errors.New("cpim: header " + strconv.Itoa(i+1) + " " + quote(w.Name) + " in namespace " + quote(w.NS) +
				" reads back as " + quote(h.Name) + " in namespace " + quote(h.NS))
		}
	}
	switch {
	case got.From != m.From:
		return errors.New("cpim: From does not survive serialization")
	case !got.DateTime.Equal(m.DateTime):
		return errors.New("cpim: DateTime does not survive serialization")
	case !equalSlices(got.To, m.To), !equalSlices(got.Cc, m.Cc):
		return errors.New("cpim: a To or cc address does not survive serialization")
	case !equalSlices(got.Subject, m.Subject):
		return errors.New("cpim: a Subject does not survive serialization")
	case !equalSlices(got.NS, m.NS), !equalSlices(got.Require, m.Require):
		return errors.New("cpim: NS or Require does not survive serialization")
	case !equalSlices(got.Content.Header, m.Content.Header):
		return errors.New("cpim: a content header field does not survive serialization")
	}
	return nil
}

func equalSlices[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
