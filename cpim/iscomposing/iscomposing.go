// Package iscomposing implements the "is composing" status message of
// RFC 3994, the application/im-iscomposing+xml body that tells a peer a
// reply is being typed.  The body may travel alone (SIP MESSAGE, MSRP) or
// as the content of a message/cpim wrapper (RFC 3994 §3.5); this package
// handles only the XML document.
package iscomposing

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ContentType is the media type of an isComposing status message
// (RFC 3994 §8.1).  Its optional charset parameter can only be UTF-8 (§6).
const ContentType = "application/im-iscomposing+xml"

// Namespace is the XML namespace of the <isComposing> document (RFC 3994
// §8.2).  The RFC's own examples name "urn:ietf:params:xml:ns:im-composing"
// in xsi:schemaLocation; that attribute is a typo and is ignored here.
const Namespace = "urn:ietf:params:xml:ns:im-iscomposing"

// The states of RFC 3994 §3.1.  A receiver MUST treat any other state as
// StateIdle (§3.5); see [Status.Active].
const (
	StateActive = "active"
	StateIdle   = "idle"
)

// Timing rules of RFC 3994 §3.2 and §3.3 that a sender or receiver must
// apply; none of them is carried on the wire except the refresh interval.
const (
	// MinRefresh is the shortest refresh interval a composer SHOULD
	// announce in <refresh> and use for re-sending "active" (§3.2).
	MinRefresh = 60 * time.Second

	// DefaultIdleTimeout is how long a composer waits without user
	// activity before sending "idle"; §3.2 says it SHOULD default to 15 s.
	DefaultIdleTimeout = 15 * time.Second

	// DefaultActiveTimeout is how long a receiver keeps the composer
	// "active" when the last active message had no <refresh> (§3.3).  A
	// composer that sends no refreshes must expect to be shown idle after
	// this time (§3.2).
	DefaultActiveTimeout = 120 * time.Second
)

// MaxSize bounds the documents [Parse] accepts.  An isComposing document
// is a few hundred octets; the bound only keeps hostile input cheap.
const MaxSize = 16 << 10

// maxRefreshSeconds keeps Refresh representable as a time.Duration.
const maxRefreshSeconds = 1<<32 - 1

// Status is the content of an <isComposing> document (RFC 3994 §3.4).
type Status struct {
	// State is the <state> text as received, e.g. StateActive.
	State string
	// LastActive is the optional <lastactive> time; zero when absent.
	LastActive time.Time
	// ContentType is the optional <contenttype> hint: a media type or
	// just its top-level type, such as "text/plain" or "audio".
	ContentType string
	// Refresh is the optional <refresh> interval of an active composer
	// (whole seconds on the wire); zero when absent.
	Refresh time.Duration
}

// Active reports whether s says the peer is composing.  Unknown states
// count as idle (RFC 3994 §3.5).
func (s Status) Active() bool {
	return s.State == StateActive
}

// Timeout is how long a receiver should keep showing an active composer
// without a new message: the announced refresh interval, else
// [DefaultActiveTimeout] (RFC 3994 §3.3).  It is zero for an idle status.
func (s Status) Timeout() time.Duration {
	switch {
	case !s.Active():
		return 0
	case s.Refresh > 0:
		return s.Refresh
	default:
		return DefaultActiveTimeout
	}
}

// Marshal encodes s as an application/im-iscomposing+xml document in
// UTF-8 with an XML declaration.  State must not be empty; Refresh must
// not be negative and is rounded up to whole seconds.  LastActive is
// written in RFC 3339 form and kept in its own time zone.
func (s Status) Marshal() ([]byte, error) {
	if s.State == "" {
		return nil, errors.New("iscomposing: empty state")
	}
	if s.Refresh < 0 {
		return nil, fmt.Errorf("iscomposing: negative refresh %v", s.Refresh)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	root := xml.StartElement{
		Name: xml.Name{Local: "isComposing"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: Namespace}},
	}
	// Children are written without a namespace so that they inherit the
	// default one; encoding/xml would repeat xmlns on every element.
	if err := enc.EncodeToken(root); err != nil {
		return nil, err
	}
	children := []struct{ name, value string }{
		{"state", s.State},
		{"lastactive", formatTime(s.LastActive)},
		{"contenttype", s.ContentType},
		{"refresh", formatSeconds(s.Refresh)},
	}
	for _, c := range children {
		if c.value == "" {
			continue
		}
		if err := enc.EncodeElement(c.value, xml.StartElement{Name: xml.Name{Local: c.name}}); err != nil {
			return nil, fmt.Errorf("iscomposing: %s: %w", c.name, err)
		}
	}
	if err := enc.EncodeToken(root.End()); err != nil {
		return nil, err
	}
	if err := enc.Flush(); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

func formatSeconds(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}

// document is the decoding form of <isComposing>.  Elements from other
// namespaces are extensions that §3.5 says must be safely ignorable, so
// they have no field and encoding/xml skips them.
type document struct {
	XMLName     xml.Name `xml:"urn:ietf:params:xml:ns:im-iscomposing isComposing"`
	State       *string  `xml:"urn:ietf:params:xml:ns:im-iscomposing state"`
	LastActive  string   `xml:"urn:ietf:params:xml:ns:im-iscomposing lastactive"`
	ContentType string   `xml:"urn:ietf:params:xml:ns:im-iscomposing contenttype"`
	Refresh     string   `xml:"urn:ietf:params:xml:ns:im-iscomposing refresh"`
}

// Parse decodes an application/im-iscomposing+xml document.  The root
// must be <isComposing> in [Namespace] and carry a <state>; the document
// must be UTF-8 and at most [MaxSize] octets.  Whitespace around element
// text is ignored.  <lastactive> must be an RFC 3339 date-time and
// <refresh> a positive integer number of seconds.
func Parse(b []byte) (Status, error) {
	if len(b) > MaxSize {
		return Status{}, fmt.Errorf("iscomposing: document of %d octets exceeds the %d octet limit", len(b), MaxSize)
	}
	var doc document
	if err := xml.Unmarshal(b, &doc); err != nil {
		return Status{}, fmt.Errorf("iscomposing: %w", err)
	}
	if doc.State == nil {
		return Status{}, errors.New("iscomposing: missing <state>")
	}
	s := Status{
		State:       strings.TrimSpace(*doc.State),
		ContentType: strings.TrimSpace(doc.ContentType),
	}
	if v := strings.TrimSpace(doc.LastActive); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return Status{}, fmt.Errorf("iscomposing: <lastactive> %q is not an RFC 3339 date-time", v)
		}
		s.LastActive = t
	}
	if v := strings.TrimSpace(doc.Refresh); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 || n > maxRefreshSeconds {
			return Status{}, fmt.Errorf("iscomposing: <refresh> %q is not a positive number of seconds", v)
		}
		s.Refresh = time.Duration(n) * time.Second
	}
	return s, nil
}
