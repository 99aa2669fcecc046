package imdn

import (
	"strings"
	"testing"
)

func TestCheckMessageID(t *testing.T) {
	valid := []string{
		"34jk324j", "d834jied93rf", "dfjkleriou432333",
		"$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg",
		"a.b.c", "!#$%&'*+-.^_`|~", "Iñaki",
	}
	for _, id := range valid {
		if err := CheckMessageID(id); err != nil {
			t.Errorf("CheckMessageID(%q) = %v, want nil", id, err)
		}
	}
	invalid := map[string]string{
		"":            "empty",
		"a b":         "offset 1",
		"$abc:server": "offset 4",
		"<x>":         "offset 0",
		"a/b":         "offset 1",
		"a=":          "offset 1",
		"a{b}":        "offset 1",
		"a\x00":       "offset 1",
		"a\x7f":       "offset 1",
		"a\xff":       "offset 1",
		"a\"b":        "offset 1",
	}
	for id, want := range invalid {
		err := CheckMessageID(id)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckMessageID(%q) = %v, want error mentioning %q", id, err, want)
		}
	}
}

func TestNewMessageID(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id := NewMessageID()
		if err := CheckMessageID(id); err != nil {
			t.Fatal(err)
		}
		// 26 base32 characters carry 130 bits, so 128 random bits fit.
		if len(id) != 26 {
			t.Fatalf("NewMessageID() = %q, %d characters, want 26", id, len(id))
		}
		if seen[id] {
			t.Fatalf("NewMessageID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestEncodeMessageID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg", "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg"},
		{"$abc:server/+=", "$abc%3Aserver%2F+%3D"},
		{"100%", "100%25"},
		{"a b", "a%20b"},
		{"é", "%C3%A9"},
		{"\x00\xff", "%00%FF"},
	}
	for _, tt := range tests {
		got, err := EncodeMessageID(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("EncodeMessageID(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if err := CheckMessageID(got); err != nil {
			t.Errorf("EncodeMessageID(%q) = %q is not a Message-ID: %v", tt.in, got, err)
		}
		back, err := DecodeMessageID(got)
		if err != nil || back != tt.in {
			t.Errorf("DecodeMessageID(%q) = %q, %v; want %q", got, back, err, tt.in)
		}
	}
	if got, err := EncodeMessageID(""); err == nil {
		t.Errorf("EncodeMessageID(\"\") = %q, want error", got)
	}
}

func TestDecodeMessageIDRejectsForeignIDs(t *testing.T) {
	for _, id := range []string{"", "%", "%4", "%41", "%3a", "%ZZ", "é", "a:b"} {
		if got, err := DecodeMessageID(id); err == nil {
			t.Errorf("DecodeMessageID(%q) = %q, want error", id, got)
		}
	}
}

func FuzzEncodeMessageID(f *testing.F) {
	f.Add("$abc:server/+=")
	f.Add("%41")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := EncodeMessageID(s)
		if s == "" {
			if err == nil {
				t.Fatal("empty string encoded")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckMessageID(id); err != nil {
			t.Fatalf("EncodeMessageID(%q) = %q: %v", s, id, err)
		}
		back, err := DecodeMessageID(id)
		if err != nil || back != s {
			t.Fatalf("DecodeMessageID(EncodeMessageID(%q)) = %q, %v", s, back, err)
		}
		// Decoding accepts only canonical encodings, so the mapping is a
		// bijection between strings and decodable IDs.
		if src, err := DecodeMessageID(s); err == nil {
			if again, _ := EncodeMessageID(src); again != s {
				t.Fatalf("DecodeMessageID(%q) = %q re-encodes as %q", s, src, again)
			}
		}
	})
}
