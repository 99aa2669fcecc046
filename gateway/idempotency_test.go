package gateway

import (
	"strings"
	"testing"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

func parse(t *testing.T, s string) *cpim.Message {
	t.Helper()
	m, err := (&cpim.Parser{}).Parse([]byte(strings.ReplaceAll(s, "\n", "\r\n")))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m
}

func TestIdempotencyKey(t *testing.T) {
	withID := parse(t, `From: <im:alice@example.org>
To: <im:bob@example.com>
NS: imdn <urn:ietf:params:imdn>
imdn.Message-ID: 34jk324j

Content-Type: text/plain

hi`)
	// The prefix is bound per message (RFC 3862 §3.4), so another prefix names the same header.
	otherPrefix := parse(t, `From: <im:alice@example.org>
To: <im:bob@example.com>
NS: x <urn:ietf:params:imdn>
x.Message-ID: 34jk324j

Content-Type: text/plain

hi`)
	withoutID := parse(t, `From: <im:alice@example.org>
To: <im:bob@example.com>

Content-Type: text/plain

hi`)
	long := strings.Repeat("k", MaxKeyLen+1)
	tests := []struct {
		name      string
		transport string
		m         *cpim.Message
		want      string
	}{
		{"transport key wins", "tx-1", withID, "tx-1"},
		{"imdn Message-ID", "", withID, "imdn:34jk324j"},
		{"imdn Message-ID under another prefix", "", otherPrefix, "imdn:34jk324j"},
		{"no key", "", withoutID, ""},
		{"longest key kept", long[1:], withoutID, long[1:]},
		{"too long is hashed", long, withoutID, hashKey("key-sha256:", []byte(long))},
		{"control byte is hashed", "a\x00b", withoutID, hashKey("key-sha256:", []byte("a\x00b"))},
		{"non-ASCII is hashed", "clé", withoutID, hashKey("key-sha256:", []byte("clé"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := IdempotencyKey(tt.transport, tt.m)
			if got != tt.want {
				t.Errorf("IdempotencyKey(%q) = %q, want %q", tt.transport, got, tt.want)
			}
			if len(got) > MaxKeyLen {
				t.Errorf("key is %d bytes, longer than MaxKeyLen", len(got))
			}
		})
	}
}

func TestBodyKey(t *testing.T) {
	a, b := BodyKey([]byte("From: <im:a@x>")), BodyKey([]byte("From: <im:b@x>"))
	if a == b {
		t.Errorf("different bodies share the key %q", a)
	}
	if a != BodyKey([]byte("From: <im:a@x>")) {
		t.Errorf("the same body gives different keys")
	}
	// SHA-256 of the empty string.
	if got, want := BodyKey(nil), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("BodyKey(nil) = %q, want %q", got, want)
	}
}
