package imdn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"time"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

// maxParts bounds the notifications read from one aggregated IMDN.
const maxParts = 256

// Request makes m ask for the given dispositions (RFC 5438 §7.1.1): it
// sets the imdn.Message-ID header to id, which must be a CPIM Token and
// should come from [NewMessageID] or [EncodeMessageID], and the
// imdn.Disposition-Notification header to ds.  Because §7.1.1.2 requires
// a DateTime in such an IM, a zero m.DateTime is set to the current time.
// Existing headers of the same names are replaced.
func Request(m *cpim.Message, id string, ds ...Disposition) error {
	if err := CheckMessageID(id); err != nil {
		return err
	}
	if len(ds) == 0 {
		return errors.New("imdn: no disposition requested")
	}
	v, err := FormatDispositionNotification(ds)
	if err != nil {
		return err
	}
	if m.DateTime.IsZero() {
		m.DateTime = now()
	}
	m.Set(Namespace, Prefix, HeaderMessageID, id)
	m.Set(Namespace, Prefix, HeaderDispositionNotification, v)
	return nil
}

// MessageID returns the imdn.Message-ID of m, whatever prefix m binds to
// [Namespace], or "" if m has none or its value is not a CPIM Token.
func MessageID(m *cpim.Message) string {
	v, ok := m.Get(Namespace, HeaderMessageID)
	if !ok || CheckMessageID(v) != nil {
		return ""
	}
	return v
}

// Requested returns the dispositions m asks for in its
// Disposition-Notification headers, unknown ones included, or nil if it
// asks for none.  A header value that does not parse is skipped, as a
// recipient is free to ignore requests (RFC 5438 §7.2.1.2).  A
// notification never asks for one (§7.2.1), so for an IMDN the result is
// nil whatever it contains.
func Requested(m *cpim.Message) []Disposition {
	if IsNotification(m) {
		return nil
	}
	var all []Disposition
	for _, v := range m.Values(Namespace, HeaderDispositionNotification) {
		ds, err := ParseDispositionNotification(v)
		if err != nil {
			continue
		}
		for _, d := range ds {
			if !contains(all, d) {
				all = append(all, d)
			}
		}
	}
	return all
}

// IsNotification reports whether m is an IMDN, recognised by the
// Content-Disposition "notification" of its content (RFC 5438 §7.1.2, §9).
func IsNotification(m *cpim.Message) bool {
	v := m.Content.Get("Content-Disposition")
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.EqualFold(strings.TrimSpace(v), "notification")
}

// Notifications returns the notifications an IMDN carries: one for a
// message/imdn+xml content, several for a multipart/mixed aggregate (RFC
// 5438 §8.3).  It fails if m is not an IMDN (see [IsNotification]).
func Notifications(m *cpim.Message) ([]Notification, error) {
	if !IsNotification(m) {
		return nil, errors.New("imdn: message content is not a notification (no Content-Disposition: notification)")
	}
	return ParseNotifications(m.Content.Get("Content-Type"), m.Content.Body)
}

// ParseNotifications parses a notification body of the given Content-Type:
// a message/imdn+xml document, or a multipart/mixed of such documents as
// an intermediary aggregates them (RFC 5438 §8.3).  Every part must be
// message/imdn+xml: an IM and an IMDN in one payload is invalid (§9).
//
// A multipart body whose last line is a plain delimiter ("--boundary",
// without the closing "--") is read as if closed, as printed in the RFC
// 5438 §8.3 figure.  At most 256 parts are read.
func ParseNotifications(contentType string, body []byte) ([]Notification, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, fmt.Errorf("imdn: Content-Type %q: %w", contentType, err)
	}
	switch mt {
	case ContentType:
		n, err := ParseNotification(body)
		if err != nil {
			return nil, err
		}
		return []Notification{n}, nil
	case "multipart/mixed":
	default:
		return nil, fmt.Errorf("imdn: Content-Type %q is neither %s nor multipart/mixed", mt, ContentType)
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, errors.New("imdn: multipart/mixed without boundary")
	}
	r := multipart.NewReader(bytes.NewReader(closeMultipart(body, boundary)), boundary)
	var ns []Notification
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("imdn: part %d: %w", len(ns)+1, err)
		}
		if len(ns) == maxParts {
			return nil, fmt.Errorf("imdn: more than %d parts", maxParts)
		}
		pt, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil || pt != ContentType {
			return nil, fmt.Errorf("imdn: part %d: Content-Type %q is not %s", len(ns)+1, p.Header.Get("Content-Type"), ContentType)
		}
		b, err := io.ReadAll(io.LimitReader(p, MaxNotificationSize+1))
		if err != nil {
			return nil, fmt.Errorf("imdn: part %d: %w", len(ns)+1, err)
		}
		n, err := ParseNotification(b)
		if err != nil {
			return nil, fmt.Errorf("imdn: part %d: %w", len(ns)+1, err)
		}
		ns = append(ns, n)
	}
	if len(ns) == 0 {
		return nil, errors.New("imdn: multipart/mixed without parts")
	}
	return ns, nil
}

// closeMultipart turns a trailing plain delimiter line into the close
// delimiter, the defect of the RFC 5438 §8.3 figure.  Any other body is
// returned unchanged, so real truncation is still reported.
func closeMultipart(body []byte, boundary string) []byte {
	trimmed := bytes.TrimRight(body, " \t\r\n")
	delim := "--" + boundary
	if !bytes.HasSuffix(trimmed, []byte(delim)) {
		return body
	}
	line := trimmed[:len(trimmed)-len(delim)]
	if len(line) > 0 && line[len(line)-1] != '\n' {
		return body // the delimiter is not alone on its line
	}
	fixed := make([]byte, 0, len(trimmed)+4)
	fixed = append(fixed, trimmed...)
	return append(fixed, "--\r\n"...)
}

// now is the DateTime this package gives new headers: UTC and whole
// seconds, the common form of RFC 3339 timestamps that peers parse.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Second)
}

// NewNotification builds the IMDN that from, the recipient of orig (or an
// intermediary), sends to report n on orig, as RFC 5438 §7.2.1 requires:
//
//   - From is from and To is orig's From;
//   - it has its own fresh imdn.Message-ID and a DateTime of now;
//   - orig's IMDN-Record-Route values become IMDN-Route values, in order;
//   - the content is n as message/imdn+xml with
//     "Content-Disposition: notification".
//
// Fields of n left empty are taken from orig: MessageID, DateTime and
// OriginalRecipientURI (from Original-To, which §11.1.4 makes mandatory
// when present); RecipientURI defaults to from's URI.
//
// NewNotification fails if orig is itself an IMDN, has no From or no
// Message-ID, or did not ask for the disposition n answers (§7.2.1), or if
// n is invalid after the defaults (e.g. orig had no DateTime: then set
// n.DateTime).  Keeping to one notification per disposition and IM
// (§7.2.1) is the caller's part.
func NewNotification(orig *cpim.Message, from cpim.Address, n Notification) (*cpim.Message, error) {
	if IsNotification(orig) {
		return nil, errors.New("imdn: an IMDN must not be sent for an IMDN")
	}
	if orig.From.URI == "" {
		return nil, errors.New("imdn: message has no From to send the IMDN to")
	}
	id := MessageID(orig)
	if id == "" {
		return nil, errors.New("imdn: message has no valid imdn.Message-ID to report on")
	}
	switch n.MessageID {
	case "":
		n.MessageID = id
	case id:
	default:
		return nil, fmt.Errorf("imdn: notification is about %q, message is %q", n.MessageID, id)
	}
	if n.DateTime.IsZero() {
		n.DateTime = orig.DateTime
	}
	if n.OriginalRecipientURI == "" {
		if v, ok := orig.Get(Namespace, HeaderOriginalTo); ok {
			a, err := cpim.ParseAddress(v)
			if err != nil {
				return nil, fmt.Errorf("imdn: Original-To: %w", err)
			}
			n.OriginalRecipientURI = a.URI
		}
	}
	if n.RecipientURI == "" {
		n.RecipientURI = from.URI
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	if d := n.Disposition(); !contains(Requested(orig), d) {
		return nil, fmt.Errorf("imdn: message did not request %q notifications", d)
	}
	body, err := n.Marshal()
	if err != nil {
		return nil, err
	}
	m := &cpim.Message{
		From:     from,
		To:       []cpim.Address{orig.From},
		DateTime: now(),
		Content: cpim.Content{
			Header: []cpim.Field{
				{Name: "Content-Type", Value: ContentType},
				{Name: "Content-Disposition", Value: "notification"},
			},
			Body: body,
		},
	}
	m.Set(Namespace, Prefix, HeaderMessageID, NewMessageID())
	for _, v := range orig.Values(Namespace, HeaderRecordRoute) {
		m.Add(Namespace, Prefix, HeaderRoute, v)
	}
	return m, nil
}
