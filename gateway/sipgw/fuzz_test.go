package sipgw

import (
	"context"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// FuzzAnswer feeds arbitrary bodies and Content-Types to the inbound MESSAGE handler. Whatever
// arrives, it must answer with a final response whose status line is well-formed, and accept only
// messages that pass the address rules and serialize back into parseable CPIM.
func FuzzAnswer(f *testing.F) {
	crlf := func(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }
	f.Add("message/cpim", crlf(cpimFromA))
	f.Add("message/cpim", crlf("From: <im:alice@a.example>\nTo: <im:bob@bridge.example>\nNS: imdn <urn:ietf:params:imdn>\nimdn.Message-ID: 34jk324j\nRequire: imdn.Message-ID\n\nContent-Type: text/plain\n\nhi"))
	f.Add("message/cpim", crlf("From: \"\\\"quoted\\\" name\" <im:alice@a.example>\nTo: <im:bob@bridge.example>\ncc: <im:carol@bridge.example>\nSubject;lang=fr: bonjour\n\nContent-Type: text/plain\n\n"))
	f.Add("message/CPIM; charset=utf-8", crlf("From: <im:alice@a.example>\nTo: <im:bob@elsewhere.example>\n\n\n"))
	f.Add("text/plain; charset=UTF-8", []byte("Watson, come here."))
	f.Add("text/plain; charset=iso-8859-1", []byte("caf\xe9"))
	f.Add("text/plain", []byte{0xff, 0xfe, 0})
	f.Add("application/octet-stream", []byte("x"))
	f.Add("", []byte("x"))

	acc := &recordingAcceptor{}
	tr, err := New(Options{LocalDomain: "bridge.example", MaxMessageSize: 8 << 10, Logger: testLogger()}, testPeers, acc)
	if err != nil {
		f.Fatal(err)
	}
	defer tr.Close()
	f.Fuzz(func(t *testing.T, ctype string, body []byte) {
		req := messageRequest(t, "127.0.0.1:5070", "text/plain", "x")
		h := sip.ContentTypeHeader(ctype)
		req.ReplaceHeader(&h)
		req.SetBody(body)
		before := len(acc.accepted())

		res := tr.answer(context.Background(), req)

		if res.StatusCode < 200 || res.StatusCode > 699 {
			t.Fatalf("status %d is not final", res.StatusCode)
		}
		if res.Reason == "" || strings.ContainsAny(res.Reason, "\r\n") {
			t.Fatalf("reason phrase %q", res.Reason)
		}
		in := acc.accepted()
		if res.StatusCode != 202 {
			if len(in) != before {
				t.Fatalf("status %d but a message was accepted", res.StatusCode)
			}
			return
		}
		if len(in) != before+1 {
			t.Fatalf("202 but %d messages accepted", len(in)-before)
		}
		m := in[len(in)-1].Message
		if ref := gateway.CheckAddresses(gwA, m, "bridge.example"); ref != nil {
			t.Fatalf("accepted a message that breaks the address rules: %v", ref)
		}
		p := cpim.Parser{}
		if _, err := p.Parse(m.Bytes()); err != nil {
			t.Fatalf("accepted message does not serialize into parseable CPIM: %v\n%q", err, m.Bytes())
		}
	})
}
