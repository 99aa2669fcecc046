package portal

import (
	"fmt"
	"slices"
	"time"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
)

// Receipts are RFC 5438 IMDNs. The bridge asks for positive-delivery and display on what the
// Matrix user sends, and answers them for what the contacts send; see docs/extensions.md.

// Requested are the dispositions the bridge asks for on outbound messages: Matrix shows both, as
// the "delivered" message status and as the contact's read receipt. Negative delivery is left
// out: a failure already shows as the gateway's answer to the send.
var Requested = []imdn.Disposition{imdn.PositiveDelivery, imdn.Display}

// maxNotifications bounds the notifications one inbound IMDN may carry into Matrix.
const maxNotifications = 64

// notifications reads the notifications of an inbound IMDN (RFC 5438 §7.1.2), at most
// maxNotifications of them.
func notifications(m *cpim.Message) ([]imdn.Notification, error) {
	ns, err := imdn.Notifications(m)
	if err != nil {
		return nil, err
	}
	if len(ns) > maxNotifications {
		return nil, fmt.Errorf("IMDN with %d notifications, more than %d", len(ns), maxNotifications)
	}
	return ns, nil
}

// ReceiptRequest is what the bridge keeps of an inbound message that asked for a display
// notification, to send it when the Matrix user reads the message: the fields RFC 5438 §7.2.1
// takes from the original message. Its zero value asks for nothing.
type ReceiptRequest struct {
	From        string    `json:"from,omitempty"`
	MessageID   string    `json:"message_id,omitempty"`
	DateTime    time.Time `json:"date_time,omitzero"`
	OriginalTo  string    `json:"original_to,omitempty"`
	RecordRoute []string  `json:"record_route,omitempty"`
	// AnsweredBy lists the Matrix users (im: URIs) whose display notification was queued, so that
	// each recipient sends one (§7.2.1), in a group too.
	AnsweredBy []string `json:"answered_by,omitempty"`
}

// Answered reports whether reader has sent the display notification.
func (r *ReceiptRequest) Answered(reader string) bool { return slices.Contains(r.AnsweredBy, reader) }

// NewReceiptRequest returns what to keep of m to answer it later with a display notification, or
// nil if m did not ask for one or cannot be answered (no Message-ID).
func NewReceiptRequest(m *cpim.Message) *ReceiptRequest {
	mid := imdn.MessageID(m)
	if mid == "" || m.From.URI == "" || !wants(m, imdn.Display) {
		return nil
	}
	r := &ReceiptRequest{From: m.From.URI, MessageID: mid, DateTime: m.DateTime, RecordRoute: m.Values(imdn.Namespace, imdn.HeaderRecordRoute)}
	r.OriginalTo, _ = m.Get(imdn.Namespace, imdn.HeaderOriginalTo)
	return r
}

// Display returns the display notification from sends for the message r was kept for.
func (r *ReceiptRequest) Display(from cpim.Address) (*cpim.Message, error) {
	orig := &cpim.Message{From: cpim.Address{URI: r.From}, DateTime: r.DateTime}
	orig.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, r.MessageID)
	orig.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderDispositionNotification, string(imdn.Display))
	if r.OriginalTo != "" {
		orig.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderOriginalTo, r.OriginalTo)
	}
	for _, v := range r.RecordRoute {
		orig.Add(imdn.Namespace, imdn.Prefix, imdn.HeaderRecordRoute, v)
	}
	return imdn.NewNotification(orig, from, imdn.Notification{Kind: imdn.KindDisplay, Status: imdn.StatusDisplayed})
}

// Delivered returns the positive delivery notification from sends for m once m is in Matrix, or
// nil if m did not ask for one (RFC 5438 §7.2.1: only requested notifications are sent).
func Delivered(m *cpim.Message, from cpim.Address) (*cpim.Message, error) {
	return deliveryNotification(m, from, imdn.PositiveDelivery, imdn.StatusDelivered)
}

// Failed returns the negative delivery notification from sends for m, which will not reach
// Matrix, or nil if m did not ask for one.
func Failed(m *cpim.Message, from cpim.Address) (*cpim.Message, error) {
	return deliveryNotification(m, from, imdn.NegativeDelivery, imdn.StatusFailed)
}

func deliveryNotification(m *cpim.Message, from cpim.Address, requested imdn.Disposition, status imdn.Status) (*cpim.Message, error) {
	if !wants(m, requested) {
		return nil, nil
	}
	return imdn.NewNotification(m, from, imdn.Notification{Kind: imdn.KindDelivery, Status: status})
}

func wants(m *cpim.Message, d imdn.Disposition) bool {
	for _, r := range imdn.Requested(m) {
		if r == d {
			return true
		}
	}
	return false
}

// RequestReceipts makes m ask for the Requested notifications (RFC 5438 §7.1.1). The caller gives
// m its imdn.Message-ID and DateTime, which such a request needs (§7.1.1.1–2).
func RequestReceipts(m *cpim.Message) {
	v, _ := imdn.FormatDispositionNotification(Requested) // constants: always tokens
	m.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderDispositionNotification, v)
}

// NotificationID is the imdn.Message-ID of the notification of the given kind that recipient (an
// im: URI) sends about the message a contact ghost sent with Message-ID mid. It is derived rather
// than fresh, so that a notification queued again after a restart is recognised as the same
// message by the queue and the gateway, and it names the recipient, as each member of a group
// answers for itself.
func NotificationID(kind imdn.Kind, recipient, ghost, mid string) string {
	id, _ := imdn.EncodeMessageID("imdn:" + string(kind) + ":" + recipient + ":" + ghost + "/" + mid) // never empty
	return id
}
