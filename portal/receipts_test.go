package portal

import (
	"slices"
	"testing"
	"time"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
)

// requesting is a message from bob that asks for ds.
func requesting(t *testing.T, ds ...imdn.Disposition) *cpim.Message {
	t.Helper()
	m := cpim.NewText(bob, alice, "hi")
	m.DateTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := imdn.Request(m, "bob-msg-1", ds...); err != nil {
		t.Fatal(err)
	}
	m.Add(imdn.Namespace, imdn.Prefix, imdn.HeaderRecordRoute, "<im:relay@example.net>")
	return m
}

// parsed serializes and parses m, as the wire does.
func parsed(t *testing.T, m *cpim.Message) *cpim.Message {
	t.Helper()
	p, err := cpim.Parse(m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Delivered and Failed answer only the request for their outcome (RFC 5438 §7.2.1).
func TestDeliveryNotificationsAnswerOnlyARequest(t *testing.T) {
	answers := map[imdn.Status]func(*cpim.Message, cpim.Address) (*cpim.Message, error){
		imdn.StatusDelivered: Delivered,
		imdn.StatusFailed:    Failed,
	}
	for _, tt := range []struct {
		ds   []imdn.Disposition
		want []imdn.Status
	}{
		{[]imdn.Disposition{imdn.PositiveDelivery, imdn.Display}, []imdn.Status{imdn.StatusDelivered}},
		{[]imdn.Disposition{imdn.PositiveDelivery}, []imdn.Status{imdn.StatusDelivered}},
		{[]imdn.Disposition{imdn.Display}, nil},
		{[]imdn.Disposition{imdn.NegativeDelivery}, []imdn.Status{imdn.StatusFailed}},
		{[]imdn.Disposition{imdn.PositiveDelivery, imdn.NegativeDelivery}, []imdn.Status{imdn.StatusDelivered, imdn.StatusFailed}},
	} {
		orig := parsed(t, requesting(t, tt.ds...))
		for status, answer := range answers {
			n, err := answer(orig, alice)
			if err != nil {
				t.Fatalf("%v, %s: %v", tt.ds, status, err)
			}
			if want := slices.Contains(tt.want, status); (n != nil) != want {
				t.Fatalf("%v: %s notification = %v, want one: %v", tt.ds, status, n, want)
			}
			if n == nil {
				continue
			}
			in, err := FromCPIM(parsed(t, n))
			if err != nil {
				t.Fatal(err)
			}
			if in.Kind != KindNotification || len(in.Notifications) != 1 {
				t.Fatalf("%v: FromCPIM(%s notification) = %v %+v", tt.ds, status, in.Kind, in.Notifications)
			}
			got := in.Notifications[0]
			if got.MessageID != "bob-msg-1" || got.Kind != imdn.KindDelivery || got.Status != status || got.RecipientURI != alice.URI {
				t.Errorf("%v: notification = %+v, want %s", tt.ds, got, status)
			}
			if n.To[0].URI != bob.URI {
				t.Errorf("%v: notification goes to %v, want bob", tt.ds, n.To)
			}
		}
	}
}

func TestReceiptRequestDisplay(t *testing.T) {
	orig := parsed(t, requesting(t, imdn.PositiveDelivery, imdn.Display))
	orig.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderOriginalTo, "<im:alice-old@im.example.org>")
	r := NewReceiptRequest(orig)
	if r == nil {
		t.Fatal("NewReceiptRequest = nil for a message asking for display")
	}
	want, err := imdn.NewNotification(orig, alice, imdn.Notification{Kind: imdn.KindDisplay, Status: imdn.StatusDisplayed})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Display(alice)
	if err != nil {
		t.Fatal(err)
	}
	// The bodies match: the kept fields are all a display notification takes from the message.
	if string(got.Content.Body) != string(want.Content.Body) {
		t.Errorf("Display body =\n%s\nwant\n%s", got.Content.Body, want.Content.Body)
	}
	if got.To[0].URI != bob.URI {
		t.Errorf("Display goes to %v, want bob", got.To)
	}
	if routes := got.Values(imdn.Namespace, imdn.HeaderRoute); len(routes) != 1 || routes[0] != "<im:relay@example.net>" {
		t.Errorf("IMDN-Route = %q, want the message's IMDN-Record-Route", routes)
	}
	in, err := FromCPIM(parsed(t, got))
	if err != nil {
		t.Fatal(err)
	}
	if n := in.Notifications; in.Kind != KindNotification || len(n) != 1 || n[0].Kind != imdn.KindDisplay || n[0].MessageID != "bob-msg-1" {
		t.Errorf("FromCPIM(display) = %v %+v", in.Kind, n)
	}
}

// In a group each member answers a display request for itself (RFC 5438 §7.2.1): the answers are
// kept per member and are different messages.
func TestReceiptRequestPerMember(t *testing.T) {
	dave := "im:dave@im.example.org"
	r := NewReceiptRequest(parsed(t, requesting(t, imdn.Display)))
	r.AnsweredBy = append(r.AnsweredBy, alice.URI)
	if !r.Answered(alice.URI) || r.Answered(dave) {
		t.Errorf("answered by %q: Answered(alice) = %v, Answered(dave) = %v", r.AnsweredBy, r.Answered(alice.URI), r.Answered(dave))
	}
	ghost := "bob@example.net"
	ids := map[string]bool{}
	for _, id := range []string{
		NotificationID(imdn.KindDisplay, alice.URI, ghost, "m1"),
		NotificationID(imdn.KindDisplay, dave, ghost, "m1"),
		NotificationID(imdn.KindDelivery, alice.URI, ghost, "m1"),
		NotificationID(imdn.KindDisplay, alice.URI, ghost, "m2"),
	} {
		if err := imdn.CheckMessageID(id); err != nil {
			t.Errorf("NotificationID %q: %v", id, err)
		}
		ids[id] = true
	}
	if len(ids) != 4 {
		t.Errorf("NotificationIDs %v: want four different ones", ids)
	}
}

func TestNoReceiptRequest(t *testing.T) {
	plain := cpim.NewText(bob, alice, "hi")
	noID := cpim.NewText(bob, alice, "hi")
	noID.Set(imdn.Namespace, imdn.Prefix, imdn.HeaderDispositionNotification, "display")
	for name, m := range map[string]*cpim.Message{
		"no request":    plain,
		"delivery only": requesting(t, imdn.PositiveDelivery),
		"no Message-ID": noID,
	} {
		if r := NewReceiptRequest(m); r != nil {
			t.Errorf("%s: NewReceiptRequest = %+v, want nil", name, r)
		}
	}
}

func TestFromCPIMNotificationErrors(t *testing.T) {
	m := cpim.NewText(bob, alice, "")
	m.Content = cpim.Content{
		Header: []cpim.Field{{Name: "Content-Type", Value: imdn.ContentType}, {Name: "Content-Disposition", Value: "notification"}},
		Body:   []byte("<imdn>not the namespace</imdn>"),
	}
	if in, err := FromCPIM(m); err == nil {
		t.Errorf("FromCPIM of a broken IMDN = %+v, want error", in)
	}
}
