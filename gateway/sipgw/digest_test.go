package sipgw

import (
	"strings"
	"testing"
	"time"

	"github.com/icholy/digest"
)

func TestDigestGuard(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	g := newDigestGuard("bridge.example")
	g.now = func() time.Time { return now }

	chal, err := digest.ParseChallenge(g.challenge(false))
	if err != nil {
		t.Fatal(err)
	}
	if chal.Realm != "bridge.example" || chal.Algorithm != "MD5" || !chal.SupportsQOP("auth") || chal.Stale {
		t.Fatalf("challenge %+v", chal)
	}
	answer := func(c *digest.Challenge, method, user, password string) string {
		cred, err := digest.Digest(c, digest.Options{Method: method, URI: "sip:bob@bridge.example", Username: user, Password: password})
		if err != nil {
			t.Fatal(err)
		}
		return cred.String()
	}
	good := answer(chal, "MESSAGE", "gw", "pw")
	tests := []struct {
		name   string
		header string
		method string
		want   authResult
	}{
		{"valid", good, "MESSAGE", authOK},
		{"missing", "", "MESSAGE", authMissing},
		{"wrong password", answer(chal, "MESSAGE", "gw", "nope"), "MESSAGE", authFailed},
		{"wrong user", answer(chal, "MESSAGE", "other", "pw"), "MESSAGE", authFailed},
		{"other method", good, "INVITE", authFailed},
		{"foreign realm", answer(&digest.Challenge{Realm: "elsewhere", Nonce: chal.Nonce, QOP: []string{"auth"}}, "MESSAGE", "gw", "pw"), "MESSAGE", authFailed},
		{"forged nonce", answer(&digest.Challenge{Realm: chal.Realm, Nonce: strings.Repeat("0", 48), QOP: []string{"auth"}}, "MESSAGE", "gw", "pw"), "MESSAGE", authFailed},
		{"without qop (RFC 2069)", answer(&digest.Challenge{Realm: chal.Realm, Nonce: chal.Nonce}, "MESSAGE", "gw", "pw"), "MESSAGE", authOK},
		{"auth-int not offered", answer(&digest.Challenge{Realm: chal.Realm, Nonce: chal.Nonce, QOP: []string{"auth-int"}}, "MESSAGE", "gw", "pw"), "MESSAGE", authFailed},
		{"SHA-256 not offered", answer(&digest.Challenge{Realm: chal.Realm, Nonce: chal.Nonce, Algorithm: "SHA-256", QOP: []string{"auth"}}, "MESSAGE", "gw", "pw"), "MESSAGE", authFailed},
		{"not digest", "Basic Z3c6cHc=", "MESSAGE", authFailed},
	}
	for _, tt := range tests {
		if got := g.verify(tt.header, tt.method, "gw", "pw"); got != tt.want {
			t.Errorf("%s: verify = %v, want %v", tt.name, got, tt.want)
		}
	}

	now = now.Add(nonceLifetime)
	if got := g.verify(good, "MESSAGE", "gw", "pw"); got != authStale {
		t.Errorf("credentials with an old nonce: %v, want authStale", got)
	}
	if c, _ := digest.ParseChallenge(g.challenge(true)); !c.Stale {
		t.Error("challenge(true) lacks stale=true")
	}
	other := newDigestGuard("bridge.example")
	if ours, _ := other.checkNonce(chal.Nonce); ours {
		t.Error("a nonce of one guard passes another guard's key")
	}
}
