package imdn

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

func readMessage(t *testing.T, file string, lenient bool) *cpim.Message {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	p := cpim.Parser{Lenient: lenient}
	parse := p.Parse
	if strings.HasPrefix(string(b), "Content-type: Message/CPIM\r\n") {
		parse = p.ParseMIME
	}
	m, err := parse(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return m
}

func TestRFCRequests(t *testing.T) {
	tests := []struct {
		file    string
		lenient bool
	}{
		{"rfc5438-s7.1.1.3.corrected.crlf.txt", false},
		{"rfc5438-s7.1.1.3-im-requesting-delivery-notifications.as-printed.crlf.txt", true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m := readMessage(t, tt.file, tt.lenient)
			if got := MessageID(m); got != "34jk324j" {
				t.Errorf("MessageID = %q, want 34jk324j", got)
			}
			want := []Disposition{PositiveDelivery, NegativeDelivery}
			if got := Requested(m); !reflect.DeepEqual(got, want) {
				t.Errorf("Requested = %q, want %q", got, want)
			}
			if IsNotification(m) {
				t.Error("IsNotification = true for an IM")
			}
			if _, err := Notifications(m); err == nil {
				t.Error("Notifications of an IM succeeded")
			}
		})
	}
}

func TestRFCNotifications(t *testing.T) {
	n := func(kind Kind, status Status) Notification {
		return Notification{
			MessageID: "34jk324j", DateTime: rfcDateTime,
			RecipientURI: "im:bob@example.com", OriginalRecipientURI: "im:bob@example.com",
			Kind: kind, Status: status,
		}
	}
	tests := []struct {
		file   string
		wantID string
		want   []Notification
	}{
		{"rfc5438-s7.2.1.1-delivery-notification.as-printed.crlf.txt", "d834jied93rf", []Notification{n(KindDelivery, StatusDelivered)}},
		{"rfc5438-s7.2.1.2-display-notification.as-printed.crlf.txt", "dfjkleriou432333", []Notification{n(KindDisplay, StatusDisplayed)}},
		// The §8.1 figure lacks the Message-ID an IMDN must carry.
		{"rfc5438-s8.1-processing-notification.as-printed.crlf.txt", "", []Notification{n(KindProcessing, StatusProcessed)}},
		{"rfc5438-s8.3-aggregated-imdn.as-printed.crlf.txt", "d834jied93rf", []Notification{n(KindDelivery, StatusDelivered), n(KindDisplay, StatusDisplayed)}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			// The figures lack the blank line after the CPIM headers.
			m := readMessage(t, tt.file, true)
			if got := MessageID(m); got != tt.wantID {
				t.Errorf("MessageID = %q, want %q", got, tt.wantID)
			}
			if !IsNotification(m) {
				t.Error("IsNotification = false")
			}
			if got := Requested(m); got != nil {
				t.Errorf("Requested = %q, want nil for an IMDN", got)
			}
			got, err := Notifications(m)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Notifications = %d, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if !notificationEqual(got[i], tt.want[i]) {
					t.Errorf("notification %d =\n%+v\nwant\n%+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseNotificationsMultipart(t *testing.T) {
	doc := func(status string) string {
		return "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\"><message-id>m</message-id><datetime>2024-01-02T03:04:05Z</datetime>" +
			"<delivery-notification><status><" + status + "/></status></delivery-notification></imdn>"
	}
	part := func(ct, body string) string { return "--b\r\nContent-Type: " + ct + "\r\n\r\n" + body + "\r\n" }
	const ct = `multipart/mixed; boundary="b"`
	tests := []struct {
		name, ct, body string
		want           []Status // nil: an error is expected
	}{
		{"closed", ct, part(ContentType, doc("delivered")) + part(ContentType, doc("failed")) + "--b--\r\n", []Status{StatusDelivered, StatusFailed}},
		{"RFC 5438 §8.3 unclosed", ct, part(ContentType, doc("delivered")) + "--b\r\n", []Status{StatusDelivered}},
		{"unclosed without CRLF", ct, part(ContentType, doc("delivered")) + "--b", []Status{StatusDelivered}},
		{"part parameters", ct, part("Message/IMDN+XML; charset=UTF-8", doc("error")) + "--b--", []Status{StatusError}},
		{"truncated part", ct, "--b\r\nContent-Type: message/imdn+xml\r\n\r\n<imdn", nil},
		{"IM mixed in", ct, part(ContentType, doc("delivered")) + part("text/plain", "hi") + "--b--", nil},
		{"part without type", ct, "--b\r\n\r\n" + doc("delivered") + "\r\n--b--", nil},
		{"bad part", ct, part(ContentType, "<imdn/>") + "--b--", nil},
		{"no parts", ct, "--b--\r\n", nil},
		{"no boundary", "multipart/mixed", part(ContentType, doc("delivered")) + "--b--", nil},
		{"other type", "text/plain", doc("delivered"), nil},
		{"bad type", "message/", doc("delivered"), nil},
		{"too many parts", ct, strings.Repeat(part(ContentType, doc("delivered")), maxParts+1) + "--b--", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNotifications(tt.ct, []byte(tt.body))
			if tt.want == nil {
				if err == nil {
					t.Errorf("ParseNotifications = %+v, want error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var statuses []Status
			for _, n := range got {
				statuses = append(statuses, n.Status)
			}
			if !reflect.DeepEqual(statuses, tt.want) {
				t.Errorf("statuses = %q, want %q", statuses, tt.want)
			}
		})
	}
}

func TestMessageIDAnyPrefix(t *testing.T) {
	tests := []struct {
		name, headers, want string
	}{
		{"imdn prefix", "NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: a1\r\n", "a1"},
		{"other prefix", "NS: foo <urn:ietf:params:imdn>\r\nfoo.Message-ID: a2\r\n", "a2"},
		{"default namespace", "NS: <urn:ietf:params:imdn>\r\nMessage-ID: a3\r\n", "a3"},
		{"imdn prefix bound elsewhere", "NS: imdn <urn:example:other>\r\nimdn.Message-ID: a4\r\n", ""},
		{"unprefixed CPIM header", "Message-ID: a5\r\n", ""},
		{"not a token", "NS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: a b\r\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "From: <im:a@example.com>\r\n" + tt.headers + "\r\nContent-Type: text/plain\r\n\r\nhi"
			m, err := cpim.Parse([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if got := MessageID(m); got != tt.want {
				t.Errorf("MessageID = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRequestedSkipsMalformedAndMergesHeaders(t *testing.T) {
	in := "From: <im:a@example.com>\r\nNS: imdn <urn:ietf:params:imdn>\r\n" +
		"imdn.Disposition-Notification: display\r\n" +
		"imdn.Disposition-Notification: negative-delivery x\r\n" +
		"imdn.Disposition-Notification: x-future, display, positive-delivery\r\n" +
		"\r\nContent-Type: text/plain\r\n\r\nhi"
	m, err := cpim.Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Disposition{Display, "x-future", PositiveDelivery}
	if got := Requested(m); !reflect.DeepEqual(got, want) {
		t.Errorf("Requested = %q, want %q", got, want)
	}
}

func TestRequestRoundTrip(t *testing.T) {
	m := cpim.NewText(cpim.Address{Name: "Alice", URI: "im:alice@example.com"}, cpim.Address{URI: "im:bob@example.com"}, "Hello World")
	id := NewMessageID()
	if err := Request(m, id, Display, PositiveDelivery); err != nil {
		t.Fatal(err)
	}
	if m.DateTime.IsZero() {
		t.Error("Request left DateTime unset (RFC 5438 §7.1.1.2)")
	}
	// A second request replaces the first rather than adding headers.
	if err := Request(m, id, PositiveDelivery, NegativeDelivery, Display); err != nil {
		t.Fatal(err)
	}
	wire := m.Bytes()
	got, err := cpim.Parse(wire)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, wire)
	}
	if MessageID(got) != id {
		t.Errorf("MessageID = %q, want %q\n%s", MessageID(got), id, wire)
	}
	want := []Disposition{PositiveDelivery, NegativeDelivery, Display}
	if ds := Requested(got); !reflect.DeepEqual(ds, want) {
		t.Errorf("Requested = %q, want %q\n%s", ds, want, wire)
	}
	if n := strings.Count(string(wire), "Disposition-Notification:"); n != 1 {
		t.Errorf("%d Disposition-Notification headers, want 1\n%s", n, wire)
	}
	if !strings.Contains(string(wire), "\r\nimdn.Disposition-Notification: positive-delivery, negative-delivery, display\r\n") {
		t.Errorf("Disposition-Notification not written as RFC 5438 §7.1.1.3 shows\n%s", wire)
	}
}

func TestRequestErrors(t *testing.T) {
	m := cpim.NewText(cpim.Address{URI: "im:a@example.com"}, cpim.Address{URI: "im:b@example.com"}, "x")
	tests := []struct {
		name string
		id   string
		ds   []Disposition
	}{
		{"empty id", "", []Disposition{Display}},
		{"id with colon", "$a:b", []Disposition{Display}},
		{"nothing requested", "id", nil},
		{"bad disposition", "id", []Disposition{"dis play"}},
	}
	for _, tt := range tests {
		if err := Request(m, tt.id, tt.ds...); err == nil {
			t.Errorf("%s: Request succeeded", tt.name)
		}
	}
}

// routedIM is an IM that passed two intermediaries and a URI-list
// expansion (RFC 5438 §6.4, §6.5).
const routedIM = "From: Alice <im:alice@example.com>\r\n" +
	"To: Bob <im:bob@example.com>\r\n" +
	"NS: imdn <urn:ietf:params:imdn>\r\n" +
	"imdn.Message-ID: 34jk324j\r\n" +
	"DateTime: 2006-04-04T12:16:49-05:00\r\n" +
	"Subject: Lunch\r\n" +
	"imdn.Disposition-Notification: positive-delivery, display\r\n" +
	"imdn.Original-To: Friends <im:friends@lists.example.com>\r\n" +
	"imdn.IMDN-Record-Route: <sip:proxy2.example.com>\r\n" +
	"imdn.IMDN-Record-Route: Lists <sip:lists.example.com>\r\n" +
	"\r\n" +
	"Content-Type: text/plain\r\n" +
	"\r\n" +
	"Hello World"

func TestNewNotification(t *testing.T) {
	orig, err := cpim.Parse([]byte(routedIM))
	if err != nil {
		t.Fatal(err)
	}
	bob := cpim.Address{Name: "Bob", URI: "im:bob@example.com"}
	m, err := NewNotification(orig, bob, Notification{Kind: KindDisplay, Status: StatusDisplayed, Subject: "Lunch"})
	if err != nil {
		t.Fatal(err)
	}
	wire := m.Bytes()
	got, err := cpim.Parse(wire)
	if err != nil {
		t.Fatalf("the IMDN does not parse strictly: %v\n%s", err, wire)
	}
	if got.From != bob || len(got.To) != 1 || got.To[0] != orig.From {
		t.Errorf("From %v To %v, want From %v To [%v]", got.From, got.To, bob, orig.From)
	}
	id := MessageID(got)
	if id == "" || id == "34jk324j" {
		t.Errorf("IMDN Message-ID = %q, want a fresh one (RFC 5438 §7.2.1)", id)
	}
	if got.DateTime.IsZero() {
		t.Error("IMDN has no DateTime")
	}
	wantRoute := []string{"<sip:proxy2.example.com>", "Lists <sip:lists.example.com>"}
	if r := got.Values(Namespace, HeaderRoute); !reflect.DeepEqual(r, wantRoute) {
		t.Errorf("IMDN-Route = %q, want %q", r, wantRoute)
	}
	for _, name := range []string{HeaderRecordRoute, HeaderDispositionNotification, HeaderOriginalTo} {
		if v, ok := got.Get(Namespace, name); ok {
			t.Errorf("IMDN carries %s: %q", name, v)
		}
	}
	if ct := got.Content.Type(); ct != ContentType {
		t.Errorf("content type %q, want %q", ct, ContentType)
	}
	ns, err := Notifications(got)
	if err != nil {
		t.Fatal(err)
	}
	want := Notification{
		MessageID: "34jk324j", DateTime: time.Date(2006, 4, 4, 17, 16, 49, 0, time.UTC),
		RecipientURI: "im:bob@example.com", OriginalRecipientURI: "im:friends@lists.example.com",
		Subject: "Lunch", Kind: KindDisplay, Status: StatusDisplayed,
	}
	if len(ns) != 1 || !notificationEqual(ns[0], want) {
		t.Errorf("Notifications = %+v, want [%+v]", ns, want)
	}
	if got := Requested(got); got != nil {
		t.Errorf("Requested(IMDN) = %q", got)
	}
}

func TestNewNotificationErrors(t *testing.T) {
	orig, err := cpim.Parse([]byte(routedIM))
	if err != nil {
		t.Fatal(err)
	}
	noDate, err := cpim.Parse([]byte(strings.Replace(routedIM, "DateTime: 2006-04-04T12:16:49-05:00\r\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	noID, err := cpim.Parse([]byte(strings.Replace(routedIM, "imdn.Message-ID: 34jk324j\r\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	noFrom, err := cpim.Parse([]byte(strings.Replace(routedIM, "From: Alice <im:alice@example.com>\r\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	bob := cpim.Address{URI: "im:bob@example.com"}
	imdnMsg, err := NewNotification(orig, bob, Notification{Kind: KindDelivery, Status: StatusDelivered})
	if err != nil {
		t.Fatal(err)
	}
	imdnMsg.Set(Namespace, Prefix, HeaderDispositionNotification, "display")
	tests := []struct {
		name    string
		orig    *cpim.Message
		n       Notification
		wantErr string
	}{
		{"IMDN for an IMDN", imdnMsg, Notification{Kind: KindDisplay, Status: StatusDisplayed}, "must not be sent for an IMDN"},
		{"no From", noFrom, Notification{Kind: KindDisplay, Status: StatusDisplayed}, "no From"},
		{"no Message-ID", noID, Notification{Kind: KindDisplay, Status: StatusDisplayed}, "Message-ID"},
		{"other message", orig, Notification{MessageID: "other", Kind: KindDisplay, Status: StatusDisplayed}, "other"},
		{"negative delivery not requested", orig, Notification{Kind: KindDelivery, Status: StatusFailed}, "negative-delivery"},
		{"processing not requested", orig, Notification{Kind: KindProcessing, Status: StatusStored}, "processing"},
		{"no DateTime anywhere", noDate, Notification{Kind: KindDisplay, Status: StatusDisplayed}, "DateTime"},
		{"bad status", orig, Notification{Kind: KindDisplay, Status: StatusStored}, "not allowed"},
	}
	for _, tt := range tests {
		if m, err := NewNotification(tt.orig, bob, tt.n); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: NewNotification = %v, %v; want error containing %q", tt.name, m, err, tt.wantErr)
		}
	}
	// With the DateTime supplied, an IM that lacked one can be answered.
	n := Notification{DateTime: time.Date(2006, 4, 4, 17, 16, 49, 0, time.UTC), Kind: KindDisplay, Status: StatusDisplayed}
	if _, err := NewNotification(noDate, bob, n); err != nil {
		t.Errorf("NewNotification with DateTime given: %v", err)
	}
}
