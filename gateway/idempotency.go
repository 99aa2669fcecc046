package gateway

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

// MaxKeyLen bounds an idempotency key, so that whatever a gateway sends fits a database column.
const MaxKeyLen = 255

// imdnNamespace is RFC 5438 §6.1's namespace of the IMDN headers; spelled out here so that the
// transports do not depend on the imdn package.
const imdnNamespace = "urn:ietf:params:imdn"

// IdempotencyKey names the message for duplicate suppression: the transport's own key
// (transportKey, e.g. HTTP Idempotency-Key) if there is one, else "imdn:" + the imdn.Message-ID
// header (RFC 5438 §6.3: globally unique), else "". On "" the caller falls back to BodyKey.
// Keys longer than MaxKeyLen or with bytes outside printable ASCII are replaced by a hash.
// Keys are only unique per gateway; Acceptors must scope them by Inbound.Gateway.
func IdempotencyKey(transportKey string, m *cpim.Message) string {
	if transportKey != "" {
		return boundKey(transportKey)
	}
	if id, ok := m.Get(imdnNamespace, "Message-ID"); ok && id != "" {
		return boundKey("imdn:" + id)
	}
	return ""
}

// BodyKey derives a key from the exact octets of a message, for messages that carry no key: a
// gateway retrying sends the same octets, so its retries collapse into one message.
func BodyKey(body []byte) string {
	return hashKey("sha256:", body)
}

func boundKey(k string) string {
	if len(k) > MaxKeyLen || !printableASCII(k) {
		return hashKey("key-sha256:", []byte(k))
	}
	return k
}

// The prefixes keep a hashed key apart from a hashed body of the same octets.
func hashKey(prefix string, b []byte) string {
	sum := sha256.Sum256(b)
	return prefix + hex.EncodeToString(sum[:])
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
