package imdn

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ContentType is the media type of a notification body (RFC 5438 §11.1.8).
const ContentType = "message/imdn+xml"

// XMLNamespace is the namespace of the <imdn> document (RFC 5438 §11.1).
const XMLNamespace = "urn:ietf:params:xml:ns:imdn"

// MaxNotificationSize bounds the documents [ParseNotification] accepts.
// A notification is well under a kilobyte; the bound leaves room for a
// long <subject> and keeps hostile input cheap.
const MaxNotificationSize = 64 << 10

// Kind says which of the three notifications of RFC 5438 §11.1.6–7 a
// document carries.  The element name is the Kind plus "-notification".
type Kind string

// The notification kinds of RFC 5438 §7.1.1.3 and §11.
const (
	KindDelivery   Kind = "delivery"
	KindDisplay    Kind = "display"
	KindProcessing Kind = "processing"
)

// Status is the content of the <status> element: what happened to the IM.
type Status string

// The statuses of RFC 5438 §11.1.7.  Each Kind allows only some of them;
// see [Notification.Validate].
const (
	StatusDelivered Status = "delivered" // delivery
	StatusFailed    Status = "failed"    // delivery
	StatusDisplayed Status = "displayed" // display
	StatusProcessed Status = "processed" // processing
	StatusStored    Status = "stored"    // processing
	StatusForbidden Status = "forbidden" // any kind: policy denied it
	StatusError     Status = "error"     // any kind: the fate is unknown
)

// statuses lists, per Kind, the statuses the RFC 5438 §11.1.9 schema allows.
var statuses = map[Kind][]Status{
	KindDelivery:   {StatusDelivered, StatusFailed, StatusForbidden, StatusError},
	KindDisplay:    {StatusDisplayed, StatusForbidden, StatusError},
	KindProcessing: {StatusProcessed, StatusStored, StatusForbidden, StatusError},
}

// Notification is the content of a message/imdn+xml document (RFC 5438
// §11.1).
type Notification struct {
	// MessageID is the Message-ID of the IM being reported on (§11.1.1).
	MessageID string
	// DateTime is the DateTime of that IM, not the time of the
	// notification (§11.1.2).
	DateTime time.Time
	// RecipientURI is the final recipient of the IM (§11.1.3); optional.
	RecipientURI string
	// OriginalRecipientURI is the recipient the IM Sender addressed, the
	// IM's Original-To if it had one (§11.1.4).
	OriginalRecipientURI string
	// Subject is the text of one Subject header of the IM (§11.1.5);
	// optional.
	Subject string
	Kind    Kind
	Status  Status
}

// Disposition returns the disposition request n answers: a delivered
// notification answers positive-delivery, any other delivery status
// negative-delivery (RFC 5438 §7.1.1.3).  A recipient must send n only if
// the IM asked for this disposition (RFC 5438 §7.2.1).
func (n *Notification) Disposition() Disposition {
	switch {
	case n.Kind == KindDelivery && n.Status == StatusDelivered:
		return PositiveDelivery
	case n.Kind == KindDelivery:
		return NegativeDelivery
	case n.Kind == KindDisplay:
		return Display
	case n.Kind == KindProcessing:
		return Processing
	}
	return ""
}

// Validate reports whether n can be sent as RFC 5438 §11 requires:
// MessageID is a CPIM Token, DateTime is set, Status is one that Kind
// allows, and Subject or OriginalRecipientURI come with RecipientURI (the
// schema makes them parts of one optional group).
func (n *Notification) Validate() error {
	if err := CheckMessageID(n.MessageID); err != nil {
		return err
	}
	if n.DateTime.IsZero() {
		return errors.New("imdn: notification without the IM's DateTime")
	}
	allowed, ok := statuses[n.Kind]
	if !ok {
		return fmt.Errorf("imdn: unknown notification kind %q", n.Kind)
	}
	if !containsStatus(allowed, n.Status) {
		return fmt.Errorf("imdn: status %q is not allowed in a %s notification", n.Status, n.Kind)
	}
	if n.RecipientURI == "" && (n.OriginalRecipientURI != "" || n.Subject != "") {
		return errors.New("imdn: original recipient or subject without recipient URI")
	}
	return nil
}

func containsStatus(ss []Status, s Status) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Marshal encodes n as a message/imdn+xml document in UTF-8, after
// checking it with [Notification.Validate].  When RecipientURI is set and
// OriginalRecipientURI is not, the recipient is written as the original
// recipient too, as the RFC 5438 examples do, because the schema requires
// both or neither.  DateTime is written in RFC 3339 form in its own zone.
func (n *Notification) Marshal() ([]byte, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	orig := n.OriginalRecipientURI
	if orig == "" {
		orig = n.RecipientURI
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	// Elements are written without a namespace so that they inherit the
	// default one; encoding/xml would repeat xmlns on every element.
	root := start("imdn")
	root.Attr = []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: XMLNamespace}}
	tokens := []xml.Token{root}
	text := func(name, value string) {
		if value != "" {
			tokens = append(tokens, start(name), xml.CharData(value), start(name).End())
		}
	}
	text("message-id", n.MessageID)
	text("datetime", n.DateTime.Format(time.RFC3339Nano))
	text("recipient-uri", n.RecipientURI)
	text("original-recipient-uri", orig)
	text("subject", n.Subject)
	kind, status, value := start(string(n.Kind)+"-notification"), start("status"), start(string(n.Status))
	tokens = append(tokens, kind, status, value, value.End(), status.End(), kind.End(), root.End())
	for _, t := range tokens {
		if err := enc.EncodeToken(t); err != nil {
			return nil, fmt.Errorf("imdn: %w", err)
		}
	}
	if err := enc.Flush(); err != nil {
		return nil, fmt.Errorf("imdn: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func start(local string) xml.StartElement {
	return xml.StartElement{Name: xml.Name{Local: local}}
}

// document is the decoding form of <imdn>.  Elements of other namespaces
// are extensions (RFC 5438 §11.1.9 anyIMDN); they have no field, so
// encoding/xml skips them.
type document struct {
	XMLName              xml.Name  `xml:"urn:ietf:params:xml:ns:imdn imdn"`
	MessageID            *string   `xml:"urn:ietf:params:xml:ns:imdn message-id"`
	DateTime             *string   `xml:"urn:ietf:params:xml:ns:imdn datetime"`
	RecipientURI         string    `xml:"urn:ietf:params:xml:ns:imdn recipient-uri"`
	OriginalRecipientURI string    `xml:"urn:ietf:params:xml:ns:imdn original-recipient-uri"`
	Subject              string    `xml:"urn:ietf:params:xml:ns:imdn subject"`
	Delivery             *kindElem `xml:"urn:ietf:params:xml:ns:imdn delivery-notification"`
	Display              *kindElem `xml:"urn:ietf:params:xml:ns:imdn display-notification"`
	Processing           *kindElem `xml:"urn:ietf:params:xml:ns:imdn processing-notification"`
}

type kindElem struct {
	Status *struct {
		Values []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"urn:ietf:params:xml:ns:imdn status"`
}

// ParseNotification decodes a message/imdn+xml document (RFC 5438 §11).
// The root must be <imdn> in [XMLNamespace]; the document must be UTF-8
// and at most [MaxNotificationSize] octets.  <message-id> must be a CPIM
// Token and <datetime> an RFC 3339 date-time.  Exactly one of the
// delivery, display and processing notifications must be present, and
// its <status> must hold exactly one status of the imdn namespace that
// the kind allows.  Whitespace around element text is ignored, as is any
// element of another namespace.
func ParseNotification(b []byte) (Notification, error) {
	if len(b) > MaxNotificationSize {
		return Notification{}, fmt.Errorf("imdn: notification of %d octets exceeds the %d octet limit", len(b), MaxNotificationSize)
	}
	var doc document
	if err := xml.Unmarshal(b, &doc); err != nil {
		return Notification{}, fmt.Errorf("imdn: notification: %w", err)
	}
	if doc.MessageID == nil {
		return Notification{}, errors.New("imdn: notification without <message-id>")
	}
	if doc.DateTime == nil {
		return Notification{}, errors.New("imdn: notification without <datetime>")
	}
	n := Notification{
		MessageID:            strings.TrimSpace(*doc.MessageID),
		RecipientURI:         strings.TrimSpace(doc.RecipientURI),
		OriginalRecipientURI: strings.TrimSpace(doc.OriginalRecipientURI),
		Subject:              strings.TrimSpace(doc.Subject),
	}
	if err := CheckMessageID(n.MessageID); err != nil {
		return Notification{}, err
	}
	dt := strings.TrimSpace(*doc.DateTime)
	t, err := time.Parse(time.RFC3339Nano, dt)
	if err != nil {
		return Notification{}, fmt.Errorf("imdn: <datetime> %q is not an RFC 3339 date-time", dt)
	}
	n.DateTime = t

	var elem *kindElem
	for _, k := range []struct {
		kind Kind
		elem *kindElem
	}{{KindDelivery, doc.Delivery}, {KindDisplay, doc.Display}, {KindProcessing, doc.Processing}} {
		if k.elem == nil {
			continue
		}
		if elem != nil {
			return Notification{}, fmt.Errorf("imdn: notification has both %s and %s elements", n.Kind, k.kind)
		}
		n.Kind, elem = k.kind, k.elem
	}
	if elem == nil {
		return Notification{}, errors.New("imdn: notification without a delivery, display or processing element")
	}
	if elem.Status == nil {
		return Notification{}, fmt.Errorf("imdn: %s notification without <status>", n.Kind)
	}
	for _, v := range elem.Status.Values {
		if v.XMLName.Space != XMLNamespace {
			continue
		}
		if n.Status != "" {
			return Notification{}, fmt.Errorf("imdn: %s notification has two statuses", n.Kind)
		}
		n.Status = Status(v.XMLName.Local)
	}
	if n.Status == "" {
		return Notification{}, fmt.Errorf("imdn: %s notification with an empty <status>", n.Kind)
	}
	if !containsStatus(statuses[n.Kind], n.Status) {
		return Notification{}, fmt.Errorf("imdn: status %q is not allowed in a %s notification", n.Status, n.Kind)
	}
	return n, nil
}
