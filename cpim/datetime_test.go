package cpim

import (
	"testing"
	"time"
)

func TestParseDateTime(t *testing.T) {
	tests := []struct {
		in      string
		want    string // RFC 3339 of the instant in UTC; "" = error
		offset  int    // seconds east of UTC
		lenient bool   // accepted only leniently
	}{
		{in: "2000-12-13T13:40:00-08:00", want: "2000-12-13T21:40:00Z", offset: -8 * 3600},
		{in: "2001-02-02T10:48:54-05:00", want: "2001-02-02T15:48:54Z", offset: -5 * 3600},
		{in: "1985-04-12T23:20:50.52Z", want: "1985-04-12T23:20:50.52Z"},
		{in: "1996-12-19T16:39:57.87+00:20", want: "1996-12-19T16:19:57.87Z", offset: 20 * 60},
		{in: "2020-01-01T00:00:00.000Z", want: "2020-01-01T00:00:00Z"},
		{in: "2020-01-01T00:00:00.1234567891234Z", want: "2020-01-01T00:00:00.123456789Z"},
		{in: "2020-01-01t00:00:00z", want: "2020-01-01T00:00:00Z"},
		{in: "2020-01-01T00:00:00-00:00", want: "2020-01-01T00:00:00Z"},
		{in: "1990-12-31T23:59:60Z", want: "1991-01-01T00:00:00Z"}, // leap second
		{in: "1990-12-31T15:59:60-08:00", want: "1991-01-01T00:00:00Z", offset: -8 * 3600},
		{in: "2000-02-29T00:00:00Z", want: "2000-02-29T00:00:00Z"},
		{in: "2020-01-01 00:00:00Z", want: "2020-01-01T00:00:00Z", lenient: true},
		{in: "2001-02-29T00:00:00Z"},
		{in: "1900-02-29T00:00:00Z"},
		{in: "2020-13-01T00:00:00Z"},
		{in: "2020-04-31T00:00:00Z"},
		{in: "2020-01-01T24:00:00Z"},
		{in: "2020-01-01T23:58:60Z"},
		{in: "2020-01-01T00:00:00"},
		{in: "2020-01-01T00:00:00+0100"},
		{in: "2020-01-01T00:00:00+24:00"},
		{in: "2020-01-01T00:00:00.Z"},
		{in: "2020-01-01T00:00:00ZZ"},
		{in: "20-01-01T00:00:00Z"},
		{in: "2020-01-01"},
		{in: "+020-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		for _, lenient := range []bool{false, true} {
			got, msg := parseDateTime(tt.in, lenient)
			ok := tt.want != "" && (lenient || !tt.lenient)
			if (msg == "") != ok {
				t.Errorf("parseDateTime(%q, lenient=%v) error %q, want ok=%v", tt.in, lenient, msg, ok)
				continue
			}
			if !ok {
				continue
			}
			if s := got.UTC().Format(time.RFC3339Nano); s != tt.want {
				t.Errorf("parseDateTime(%q) = %s, want %s", tt.in, s, tt.want)
			}
			if _, off := got.Zone(); off != tt.offset {
				t.Errorf("parseDateTime(%q) offset %d, want %d", tt.in, off, tt.offset)
			}
		}
	}
}

func TestAppendDateTime(t *testing.T) {
	for _, s := range []string{"2000-12-13T13:40:00-08:00", "1985-04-12T23:20:50.52Z", "2020-01-01T00:00:00.000000001+05:30"} {
		tm, msg := parseDateTime(s, false)
		if msg != "" {
			t.Fatal(msg)
		}
		if got := string(appendDateTime(nil, tm)); got != s {
			t.Errorf("appendDateTime(parse(%q)) = %q", s, got)
		}
	}
}

func TestAppendDateTimeSecondsOffset(t *testing.T) {
	tm := time.Date(1890, 5, 1, 12, 0, 0, 0, time.FixedZone("LMT", 19*60+32))
	got := string(appendDateTime(nil, tm))
	back, msg := parseDateTime(got, false)
	if msg != "" || !back.Equal(tm) {
		t.Errorf("appendDateTime = %q, reads back as %v (%s)", got, back, msg)
	}
}
