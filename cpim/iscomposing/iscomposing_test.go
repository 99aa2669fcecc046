package iscomposing

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseRFCExamples(t *testing.T) {
	tests := []struct {
		file string
		want Status
	}{
		{"rfc3994-s5-example-1-active.xml", Status{State: "active", ContentType: "text/plain", Refresh: 90 * time.Second}},
		{"rfc3994-s5-example-2-idle.xml", Status{State: "idle", LastActive: time.Date(2003, 1, 27, 10, 43, 0, 0, time.UTC), ContentType: "audio"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !statusEqual(got, tt.want) {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func statusEqual(a, b Status) bool {
	return a.State == b.State && a.LastActive.Equal(b.LastActive) &&
		a.ContentType == b.ContentType && a.Refresh == b.Refresh
}

func TestParseErrors(t *testing.T) {
	const head = `<?xml version="1.0" encoding="UTF-8"?>`
	tests := []struct {
		name, doc, wantErr string
	}{
		{"no state", `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><refresh>60</refresh></isComposing>`, "missing <state>"},
		{"wrong namespace", `<isComposing xmlns="urn:ietf:params:xml:ns:im-composing"><state>active</state></isComposing>`, "expected element"},
		{"no namespace", `<isComposing><state>active</state></isComposing>`, "expected element"},
		{"state in foreign namespace", `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><x:state xmlns:x="urn:x">active</x:state></isComposing>`, "missing <state>"},
		{"zero refresh", `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><refresh>0</refresh></isComposing>`, "<refresh>"},
		{"negative refresh", `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><refresh>-5</refresh></isComposing>`, "<refresh>"},
		{"huge refresh", `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><refresh>99999999999999999999</refresh></isComposing>`, "<refresh>"},
		{"bad lastactive", `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>idle</state><lastactive>yesterday</lastactive></isComposing>`, "<lastactive>"},
		{"latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?><isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>idle</state></isComposing>`, "ISO-8859-1"},
		{"truncated", head + `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>act`, "EOF"},
		{"too large", head + `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>idle</state><!--` + strings.Repeat("x", MaxSize) + `--></isComposing>`, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseIgnoresExtensionsAndWhitespace(t *testing.T) {
	doc := `<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing" xmlns:e="urn:example:ext">
	  <state>
	    active
	  </state>
	  <e:mood>grumpy</e:mood>
	  <refresh> 61 </refresh>
	</isComposing>`
	got, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Status{State: StateActive, Refresh: 61 * time.Second}
	if !statusEqual(got, want) {
		t.Errorf("Parse = %+v, want %+v", got, want)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	tests := []Status{
		{State: StateActive},
		{State: StateActive, ContentType: "text/plain", Refresh: 90 * time.Second},
		{State: StateIdle, LastActive: time.Date(2003, 1, 27, 10, 43, 0, 0, time.UTC), ContentType: "audio"},
		{State: StateIdle, LastActive: time.Date(2024, 5, 6, 7, 8, 9, 500_000_000, time.FixedZone("", -5*3600))},
		{State: "a<b&c"},
	}
	for _, s := range tests {
		b, err := s.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", s, err)
		}
		got, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Marshal(%+v)): %v\n%s", s, err, b)
		}
		if !statusEqual(got, s) {
			t.Errorf("round trip of %+v = %+v\n%s", s, got, b)
		}
	}
}

func TestMarshalDocument(t *testing.T) {
	b, err := Status{State: StateActive, ContentType: "text/plain", Refresh: 90 * time.Second}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state><contenttype>text/plain</contenttype><refresh>90</refresh></isComposing>` + "\n"
	if string(b) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", b, want)
	}
	if bytes.Count(b, []byte("xmlns")) != 1 {
		t.Errorf("namespace declared more than once: %s", b)
	}
}

func TestMarshalRefreshRoundsUp(t *testing.T) {
	b, err := Status{State: StateActive, Refresh: 1500 * time.Millisecond}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("<refresh>2</refresh>")) {
		t.Errorf("Marshal = %s, want <refresh>2</refresh>", b)
	}
}

func TestMarshalErrors(t *testing.T) {
	for _, s := range []Status{{}, {State: StateActive, Refresh: -time.Second}} {
		if b, err := s.Marshal(); err == nil {
			t.Errorf("Marshal(%+v) = %s, want error", s, b)
		}
	}
}

func TestActiveAndTimeout(t *testing.T) {
	tests := []struct {
		s           Status
		active      bool
		wantTimeout time.Duration
	}{
		{Status{State: StateActive, Refresh: 90 * time.Second}, true, 90 * time.Second},
		{Status{State: StateActive}, true, DefaultActiveTimeout},
		{Status{State: StateIdle, Refresh: 90 * time.Second}, false, 0},
		{Status{State: "paused"}, false, 0},
		{Status{State: "Active"}, false, 0},
	}
	for _, tt := range tests {
		if got := tt.s.Active(); got != tt.active {
			t.Errorf("%+v.Active() = %v, want %v", tt.s, got, tt.active)
		}
		if got := tt.s.Timeout(); got != tt.wantTimeout {
			t.Errorf("%+v.Timeout() = %v, want %v", tt.s, got, tt.wantTimeout)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"rfc3994-s5-example-1-active.xml", "rfc3994-s5-example-2-idle.xml"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil || s.State == "" {
			return
		}
		// Whatever parses must survive a round trip unchanged.
		out, err := s.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", s, err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(%+v)): %v\n%s", s, err, out)
		}
		if !statusEqual(again, s) {
			t.Fatalf("round trip %+v -> %+v\n%s", s, again, out)
		}
	})
}
