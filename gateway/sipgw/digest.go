package sipgw

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"github.com/icholy/digest"
)

// nonceLifetime is how long a nonce we issued is taken; an older one gets a new challenge with
// stale=true (RFC 2617 §3.2.1), which the peer answers without asking its user again.
const nonceLifetime = 5 * time.Minute

// digestGuard issues digest challenges and checks the credentials that answer them (RFC 3261 §22.4,
// with RFC 2617 qop=auth and MD5, the algorithm SIP peers implement). Nonces are stateless: the
// time of issue and an HMAC of it, so that any listener can check them and none need be stored.
// A nonce may be replayed within its lifetime; a replayed MESSAGE is a duplicate that the
// idempotency key catches.
type digestGuard struct {
	realm string
	key   [32]byte
	now   func() time.Time
}

func newDigestGuard(realm string) *digestGuard {
	g := &digestGuard{realm: realm, now: time.Now}
	rand.Read(g.key[:])
	return g
}

// challenge is the value of a WWW-Authenticate header.
func (g *digestGuard) challenge(stale bool) string {
	c := digest.Challenge{
		Realm:     g.realm,
		Nonce:     g.nonce(g.now()),
		Algorithm: "MD5",
		QOP:       []string{"auth"},
		Stale:     stale,
	}
	return c.String()
}

func (g *digestGuard) nonce(t time.Time) string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(t.Unix()))
	return hex.EncodeToString(ts[:]) + hex.EncodeToString(g.mac(ts[:]))
}

func (g *digestGuard) mac(ts []byte) []byte {
	h := hmac.New(sha256.New, g.key[:])
	h.Write(ts)
	return h.Sum(nil)[:16]
}

// checkNonce reports whether nonce is one of ours, and whether it is still fresh.
func (g *digestGuard) checkNonce(nonce string) (ours, fresh bool) {
	b, err := hex.DecodeString(nonce)
	if err != nil || len(b) != 8+16 || !hmac.Equal(b[8:], g.mac(b[:8])) {
		return false, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	age := g.now().Sub(issued)
	return true, age >= 0 && age < nonceLifetime
}

// authResult is the outcome of checking an Authorization header.
type authResult int

const (
	authOK authResult = iota
	authMissing
	authStale
	authFailed
)

// verify checks the value of an Authorization header of a request with the given method against
// the username and password we share with the peer. The digest-uri is taken as the peer sent it:
// a proxy may have rewritten the Request-URI since, and the response covers the digest-uri anyway.
func (g *digestGuard) verify(header, method, username, password string) authResult {
	if header == "" {
		return authMissing
	}
	cred, err := digest.ParseCredentials(header)
	if err != nil || cred.Username != username || cred.Realm != g.realm || cred.Userhash {
		return authFailed
	}
	switch strings.ToUpper(cred.Algorithm) {
	case "", "MD5":
	default:
		return authFailed
	}
	var qop []string
	switch cred.QOP {
	case "":
	case "auth":
		qop = []string{"auth"}
	default:
		return authFailed
	}
	ours, fresh := g.checkNonce(cred.Nonce)
	if !ours {
		return authFailed
	}
	want, err := digest.Digest(&digest.Challenge{Realm: g.realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, Opaque: cred.Opaque, QOP: qop},
		digest.Options{Method: method, URI: cred.URI, Username: username, Password: password, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil || subtle.ConstantTimeCompare([]byte(want.Response), []byte(strings.ToLower(cred.Response))) != 1 {
		return authFailed
	}
	if !fresh {
		return authStale
	}
	return authOK
}
