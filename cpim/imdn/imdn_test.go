package imdn

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseDispositionNotification(t *testing.T) {
	tests := []struct {
		in   string
		want []Disposition
	}{
		{"", nil},
		{" ", nil},
		{"positive-delivery, negative-delivery", []Disposition{PositiveDelivery, NegativeDelivery}},
		{"positive-delivery,negative-delivery", []Disposition{PositiveDelivery, NegativeDelivery}},
		{"display  ,  processing", []Disposition{Display, Processing}},
		{"display", []Disposition{Display}},
		{"display, display", []Disposition{Display}},
		{"x-future, display", []Disposition{"x-future", Display}},
		{"display;foo=bar", []Disposition{Display}},
		{"display ; foo=1 ; bar=\"a, b; c\\\"\" , processing", []Disposition{Display, Processing}},
		{"positive-delivery ", []Disposition{PositiveDelivery}},
	}
	for _, tt := range tests {
		got, err := ParseDispositionNotification(tt.in)
		if err != nil {
			t.Errorf("ParseDispositionNotification(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseDispositionNotification(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseDispositionNotificationErrors(t *testing.T) {
	for _, in := range []string{
		",",
		"display,",
		", display",
		"display processing",
		"display,,processing",
		"display\t, processing",
		"display;",
		"display;foo",
		"display;foo=",
		"display;fo.o=1",
		"display;foo=\"open",
		"display;foo=\"a\x01b\"",
		"disp@lay",
		"display;foo=a b",
	} {
		if got, err := ParseDispositionNotification(in); err == nil {
			t.Errorf("ParseDispositionNotification(%q) = %q, want error", in, got)
		}
	}
}

func TestFormatDispositionNotification(t *testing.T) {
	got, err := FormatDispositionNotification([]Disposition{PositiveDelivery, NegativeDelivery, Display})
	if err != nil {
		t.Fatal(err)
	}
	if want := "positive-delivery, negative-delivery, display"; got != want {
		t.Errorf("Format = %q, want %q", got, want)
	}
	if got, err := FormatDispositionNotification(nil); err != nil || got != "" {
		t.Errorf("Format(nil) = %q, %v; want empty", got, err)
	}
	if got, err := FormatDispositionNotification([]Disposition{"dis play"}); err == nil {
		t.Errorf("Format of a non-token = %q, want error", got)
	}
}

func TestDispositionKnown(t *testing.T) {
	for _, d := range []Disposition{PositiveDelivery, NegativeDelivery, Processing, Display} {
		if !d.Known() {
			t.Errorf("%q.Known() = false", d)
		}
	}
	for _, d := range []Disposition{"", "Display", "x-future"} {
		if d.Known() {
			t.Errorf("%q.Known() = true", d)
		}
	}
}

func FuzzParseDispositionNotification(f *testing.F) {
	f.Add("positive-delivery, negative-delivery")
	f.Add(`display ; a="x,y" , processing;b=1`)
	f.Fuzz(func(t *testing.T, in string) {
		ds, err := ParseDispositionNotification(in)
		if err != nil {
			return
		}
		out, err := FormatDispositionNotification(ds)
		if err != nil {
			t.Fatalf("Format(%q): %v", ds, err)
		}
		again, err := ParseDispositionNotification(out)
		if err != nil || !reflect.DeepEqual(again, ds) {
			t.Fatalf("Parse(Format(%q)) = %q, %v", ds, again, err)
		}
		if strings.Contains(out, ";") {
			t.Fatalf("Format(%q) = %q kept a parameter", ds, out)
		}
	})
}
