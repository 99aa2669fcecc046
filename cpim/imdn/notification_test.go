package imdn

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// rfcDateTime is the <datetime> of every RFC 5438 notification figure.
var rfcDateTime = time.Date(2008, 4, 4, 12, 16, 49, 0, time.FixedZone("", -5*3600))

// xmlBody returns the XML document embedded in an RFC 5438 figure.
func xmlBody(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("<?xml"))
	if i < 0 {
		t.Fatalf("%s: no XML document", file)
	}
	return b[i:]
}

func notificationEqual(a, b Notification) bool {
	a.DateTime, b.DateTime = a.DateTime.UTC(), b.DateTime.UTC()
	return a == b
}

func TestParseNotificationRFCFigures(t *testing.T) {
	tests := []struct {
		file   string
		kind   Kind
		status Status
	}{
		{"rfc5438-s7.2.1.1-delivery-notification.as-printed.crlf.txt", KindDelivery, StatusDelivered},
		{"rfc5438-s7.2.1.2-display-notification.as-printed.crlf.txt", KindDisplay, StatusDisplayed},
		{"rfc5438-s8.1-processing-notification.as-printed.crlf.txt", KindProcessing, StatusProcessed},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := ParseNotification(xmlBody(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			want := Notification{
				MessageID:            "34jk324j",
				DateTime:             rfcDateTime,
				RecipientURI:         "im:bob@example.com",
				OriginalRecipientURI: "im:bob@example.com",
				Kind:                 tt.kind,
				Status:               tt.status,
			}
			if !notificationEqual(got, want) {
				t.Errorf("ParseNotification =\n%+v\nwant\n%+v", got, want)
			}
			if _, off := got.DateTime.Zone(); off != -5*3600 {
				t.Errorf("DateTime zone offset = %d, want -18000 (kept as sent)", off)
			}
		})
	}
}

const (
	head = `<?xml version="1.0" encoding="UTF-8"?><imdn xmlns="urn:ietf:params:xml:ns:imdn">`
	ids  = `<message-id>m1</message-id><datetime>2024-01-02T03:04:05Z</datetime>`
)

func TestParseNotificationTolerates(t *testing.T) {
	tests := []struct {
		name, doc string
		want      Notification
	}{
		{
			"minimal, no recipient",
			head + ids + `<display-notification><status><error/></status></display-notification></imdn>`,
			Notification{MessageID: "m1", DateTime: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Kind: KindDisplay, Status: StatusError},
		},
		{
			"extensions and whitespace",
			`<i:imdn xmlns:i="urn:ietf:params:xml:ns:imdn" xmlns:x="urn:example:x">
			   <i:message-id> m1 </i:message-id><x:foo a="b">bar</x:foo>
			   <i:datetime>2024-01-02T03:04:05.25+01:00</i:datetime>
			   <i:recipient-uri>im:bob@example.com</i:recipient-uri
			   ><i:original-recipient-uri>im:list@example.com</i:original-recipient-uri>
			   <i:subject>Hi &amp; bye</i:subject>
			   <i:processing-notification><i:status><x:why/><i:stored/></i:status></i:processing-notification>
			   <x:trailer/>
			 </i:imdn>`,
			Notification{
				MessageID: "m1", DateTime: time.Date(2024, 1, 2, 2, 4, 5, 250_000_000, time.UTC),
				RecipientURI: "im:bob@example.com", OriginalRecipientURI: "im:list@example.com",
				Subject: "Hi & bye", Kind: KindProcessing, Status: StatusStored,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNotification([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if !notificationEqual(got, tt.want) {
				t.Errorf("ParseNotification =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseNotificationErrors(t *testing.T) {
	delivered := `<delivery-notification><status><delivered/></status></delivery-notification>`
	tests := []struct{ name, doc, wantErr string }{
		{"wrong namespace", `<imdn xmlns="urn:ietf:params:imdn">` + ids + delivered + `</imdn>`, "expected element"},
		{"no message-id", head + `<datetime>2024-01-02T03:04:05Z</datetime>` + delivered + `</imdn>`, "<message-id>"},
		{"message-id not a token", head + `<message-id>$a:b</message-id><datetime>2024-01-02T03:04:05Z</datetime>` + delivered + `</imdn>`, "not allowed in a token"},
		{"no datetime", head + `<message-id>m1</message-id>` + delivered + `</imdn>`, "<datetime>"},
		{"bad datetime", head + `<message-id>m1</message-id><datetime>April 4</datetime>` + delivered + `</imdn>`, "RFC 3339"},
		{"no notification", head + ids + `</imdn>`, "without a delivery"},
		{"two notifications", head + ids + delivered + `<display-notification><status><displayed/></status></display-notification></imdn>`, "both"},
		{"no status", head + ids + `<delivery-notification/></imdn>`, "without <status>"},
		{"empty status", head + ids + `<delivery-notification><status/></delivery-notification></imdn>`, "empty <status>"},
		{"only foreign status", head + ids + `<delivery-notification><status><x:ok xmlns:x="urn:x"/></status></delivery-notification></imdn>`, "empty <status>"},
		{"two statuses", head + ids + `<delivery-notification><status><delivered/><failed/></status></delivery-notification></imdn>`, "two statuses"},
		{"status of another kind", head + ids + `<delivery-notification><status><displayed/></status></delivery-notification></imdn>`, `"displayed" is not allowed in a delivery`},
		{"unknown status", head + ids + `<display-notification><status><read/></status></display-notification></imdn>`, `"read"`},
		{"not UTF-8", `<?xml version="1.0" encoding="ISO-8859-1"?><imdn xmlns="urn:ietf:params:xml:ns:imdn"/>`, "ISO-8859-1"},
		{"truncated", head + ids + `<delivery-noti`, "EOF"},
		{"too large", head + ids + delivered + `<!--` + strings.Repeat("x", MaxNotificationSize) + `--></imdn>`, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNotification([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseNotification = %+v, %v; want error containing %q", got, err, tt.wantErr)
			}
		})
	}
}

func TestNotificationMarshalRoundTrip(t *testing.T) {
	tests := []Notification{
		{MessageID: "34jk324j", DateTime: rfcDateTime, RecipientURI: "im:bob@example.com", OriginalRecipientURI: "im:bob@example.com", Kind: KindDelivery, Status: StatusDelivered},
		{MessageID: "x", DateTime: rfcDateTime, Kind: KindDelivery, Status: StatusFailed},
		{MessageID: "x", DateTime: rfcDateTime, Kind: KindDisplay, Status: StatusForbidden},
		{MessageID: "$abc%3Aserver", DateTime: time.Date(2024, 2, 29, 23, 59, 59, 1, time.UTC), RecipientURI: "sip:b@x?a=1&b=<2>", OriginalRecipientURI: "im:l@x", Subject: "é <&> \"'", Kind: KindProcessing, Status: StatusStored},
	}
	for _, n := range tests {
		b, err := n.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", n, err)
		}
		got, err := ParseNotification(b)
		if err != nil {
			t.Fatalf("ParseNotification(Marshal(%+v)): %v\n%s", n, err, b)
		}
		if !notificationEqual(got, n) {
			t.Errorf("round trip\n%+v\ngave\n%+v\n%s", n, got, b)
		}
	}
}

func TestNotificationMarshalDocument(t *testing.T) {
	n := Notification{MessageID: "34jk324j", DateTime: rfcDateTime, RecipientURI: "im:bob@example.com", Kind: KindDisplay, Status: StatusDisplayed}
	b, err := n.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>
<imdn xmlns="urn:ietf:params:xml:ns:imdn">
  <message-id>34jk324j</message-id>
  <datetime>2008-04-04T12:16:49-05:00</datetime>
  <recipient-uri>im:bob@example.com</recipient-uri>
  <original-recipient-uri>im:bob@example.com</original-recipient-uri>
  <display-notification>
    <status>
      <displayed></displayed>
    </status>
  </display-notification>
</imdn>
`
	if string(b) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", b, want)
	}
}

func TestNotificationValidate(t *testing.T) {
	ok := Notification{MessageID: "m", DateTime: rfcDateTime, Kind: KindDelivery, Status: StatusDelivered}
	tests := []struct {
		name    string
		edit    func(*Notification)
		wantErr string
	}{
		{"no message-id", func(n *Notification) { n.MessageID = "" }, "empty Message-ID"},
		{"bad message-id", func(n *Notification) { n.MessageID = "a b" }, "token"},
		{"no datetime", func(n *Notification) { n.DateTime = time.Time{} }, "DateTime"},
		{"no kind", func(n *Notification) { n.Kind = "" }, "kind"},
		{"unknown kind", func(n *Notification) { n.Kind = "read" }, "kind"},
		{"stored delivery", func(n *Notification) { n.Status = StatusStored }, "not allowed"},
		{"failed display", func(n *Notification) { n.Kind, n.Status = KindDisplay, StatusFailed }, "not allowed"},
		{"orphan original", func(n *Notification) { n.OriginalRecipientURI = "im:a@b" }, "without recipient"},
		{"orphan subject", func(n *Notification) { n.Subject = "s" }, "without recipient"},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v", ok, err)
	}
	for _, tt := range tests {
		n := ok
		tt.edit(&n)
		if err := n.Validate(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: Validate = %v, want error containing %q", tt.name, err, tt.wantErr)
		}
		if b, err := n.Marshal(); err == nil {
			t.Errorf("%s: Marshal = %s, want error", tt.name, b)
		}
	}
}

func TestNotificationDisposition(t *testing.T) {
	tests := []struct {
		kind   Kind
		status Status
		want   Disposition
	}{
		{KindDelivery, StatusDelivered, PositiveDelivery},
		{KindDelivery, StatusFailed, NegativeDelivery},
		{KindDelivery, StatusForbidden, NegativeDelivery},
		{KindDelivery, StatusError, NegativeDelivery},
		{KindDisplay, StatusDisplayed, Display},
		{KindDisplay, StatusError, Display},
		{KindProcessing, StatusStored, Processing},
		{"read", StatusDisplayed, ""},
	}
	for _, tt := range tests {
		n := Notification{Kind: tt.kind, Status: tt.status}
		if got := n.Disposition(); got != tt.want {
			t.Errorf("{%s %s}.Disposition() = %q, want %q", tt.kind, tt.status, got, tt.want)
		}
	}
}

func FuzzParseNotification(f *testing.F) {
	for _, file := range []string{
		"rfc5438-s7.2.1.1-delivery-notification.as-printed.crlf.txt",
		"rfc5438-s7.2.1.2-display-notification.as-printed.crlf.txt",
		"rfc5438-s8.1-processing-notification.as-printed.crlf.txt",
	} {
		f.Add(xmlBody(f, file))
	}
	f.Add([]byte(head + ids + `<delivery-notification><status><failed/></status></delivery-notification></imdn>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := ParseNotification(b)
		if err != nil || n.Validate() != nil {
			return
		}
		out, err := n.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", n, err)
		}
		again, err := ParseNotification(out)
		if err != nil {
			t.Fatalf("ParseNotification(Marshal(%+v)): %v\n%s", n, err, out)
		}
		if n.OriginalRecipientURI == "" {
			n.OriginalRecipientURI = n.RecipientURI
		}
		if !notificationEqual(again, n) {
			t.Fatalf("round trip %+v -> %+v\n%s", n, again, out)
		}
	})
}
