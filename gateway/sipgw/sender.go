package sipgw

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// viaAllowance is room kept for the Via header that the transport layer adds after the size
// check: "Via: SIP/2.0/UDP " with an IPv6 address, port, a 16-character branch and rport.
const viaAllowance = 128

// sender sends MESSAGE requests to one SIP gateway.
type sender struct {
	t    *Transport
	name string  // the gateway, for error messages
	uri  sip.Uri // Request-URI; without user part the recipient's user is put in
	// dest is where to send instead of resolving uri ("" resolves it): an SRV target's address.
	dest string
	// transport is the one an SRV record named ("UDP" or "TCP"); "" lets uri decide.
	transport string
	auth      *sipgo.DigestAuth
}

// NewSender returns a sender for gw. Its Request-URI is gw.SIPURI; if that has no user part, each
// request carries the recipient's user in it (sip:gw.example.net → sip:bob@gw.example.net).
func (t *Transport) NewSender(gw *gateway.Config) (gateway.Sender, error) {
	var u sip.Uri
	if err := sip.ParseUri(gw.SIPURI, &u); err != nil || (u.Scheme != "sip" && u.Scheme != "sips") || u.Host == "" {
		return nil, fmt.Errorf("gateway %q: sip_uri %q is not a sip: or sips: URI with a host", gw.Name, gw.SIPURI)
	}
	s := &sender{t: t, name: gw.Name, uri: u}
	for _, p := range t.peers {
		if p.Gateway.Name == gw.Name && p.DigestUsername != "" {
			s.auth = &sipgo.DigestAuth{Username: p.DigestUsername, Password: p.DigestPassword}
		}
	}
	return s, nil
}

// NewSRVSender returns a sender for a next hop found by SRV (RFC 3861): requests are addressed to
// the recipient at the im: domain (sip:bob@example.com) and sent to the target's address. It fits
// gateway.SRVRouting.NewSender.
func (t *Transport) NewSRVSender(tg gateway.SRVTarget) (gateway.Sender, error) {
	if tg.Domain == "" || !tg.Addr.IsValid() {
		return nil, fmt.Errorf("SRV target %+v has no domain or address", tg)
	}
	s := &sender{t: t, name: "srv:" + tg.Host, uri: sip.Uri{Scheme: "sip", Host: tg.Domain}, dest: tg.Addr.String()}
	switch tg.Transport {
	case "udp", "tcp":
		s.transport = strings.ToUpper(tg.Transport)
	case "":
	default:
		return nil, fmt.Errorf("SRV target %s: transport %q is neither udp nor tcp", tg.Host, tg.Transport)
	}
	return s, nil
}

// Send sends out as one out-of-dialog MESSAGE with a message/cpim body (RFC 3428 §4; §3 names
// message/cpim). Every call is a new request, with a new Call-ID, carrying the same octets.
func (s *sender) Send(ctx context.Context, out *gateway.Outbound) error {
	req, err := s.request(out)
	if err != nil {
		return err
	}
	unlock, err := s.t.locks.lock(ctx, req.Recipient.String())
	if err != nil {
		return s.transportError(ctx, err)
	}
	defer unlock()
	res, err := s.t.cli.Do(ctx, req)
	if err == nil && (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) && s.auth != nil {
		res, err = s.t.cli.DoDigestAuth(ctx, req, res, *s.auth)
	}
	if err != nil {
		return s.transportError(ctx, err)
	}
	return classify(res)
}

// request builds the MESSAGE for out. Its SIP From and To are the CPIM From and first To mapped to
// SIP URIs (RFC 3428 §5); the gateway reads the other recipients from the CPIM headers.
func (s *sender) request(out *gateway.Outbound) (*sip.Request, error) {
	m := out.Message
	if len(m.To) == 0 {
		return nil, &gateway.SendError{Reason: "the message has no To address"}
	}
	from, err := sipURIFor(m.From.URI)
	if err != nil {
		return nil, &gateway.SendError{Reason: "From " + err.Error()}
	}
	to, err := sipURIFor(m.To[0].URI)
	if err != nil {
		return nil, &gateway.SendError{Reason: "To " + err.Error()}
	}
	ruri := *s.uri.Clone()
	if ruri.User == "" {
		ruri.User = to.User
	}
	req := sip.NewRequest(sip.MESSAGE, ruri)
	fromHdr := &sip.FromHeader{DisplayName: quoteDisplayName(m.From.Name), Address: from, Params: sip.NewParams()}
	fromHdr.Params.Add("tag", sip.GenerateTagN(16))
	callID := sip.CallIDHeader(uuid.NewString())
	maxFwd := sip.MaxForwardsHeader(70)
	ctype := sip.ContentTypeHeader("message/cpim")
	req.AppendHeader(fromHdr)
	req.AppendHeader(&sip.ToHeader{DisplayName: quoteDisplayName(m.To[0].Name), Address: to})
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.MESSAGE})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(&ctype)
	req.SetBody(out.Body)
	if s.dest != "" {
		req.SetDestination(s.dest)
	}
	if err := s.chooseTransport(req); err != nil {
		return nil, err
	}
	return req, nil
}

// chooseTransport picks TLS for a sips: URI (RFC 3261 §26.2.2) and the transport an SRV record
// named, and applies the congestion rule of RFC 3428 §8 (and RFC 3261 §18.1.1): a request larger
// than MaxUDPSize does not go over UDP. Unless UDP is all the next hop offers (a sip_uri with
// ;transport=udp, or an _im._sip._udp SRV record), it goes over TCP instead, which every SIP element
// implements (RFC 3261 §18).
func (s *sender) chooseTransport(req *sip.Request) error {
	if req.Recipient.IsEncrypted() {
		req.SetTransport("TLS")
		return nil
	}
	if s.transport != "" {
		req.SetTransport(s.transport)
	}
	if req.Transport() != "UDP" {
		return nil
	}
	size := len(req.String()) + viaAllowance
	if size <= s.t.opts.MaxUDPSize {
		return nil
	}
	if s.transport == "UDP" {
		return &gateway.SendError{Reason: fmt.Sprintf(
			"message of %d bytes is too large for UDP (limit %d, RFC 3428 §8) and the SRV record of %s offers only UDP",
			size, s.t.opts.MaxUDPSize, s.uri.Host)}
	}
	if tp, ok := req.Recipient.UriParams.Get("transport"); ok && strings.EqualFold(tp, "udp") {
		return &gateway.SendError{Reason: fmt.Sprintf(
			"message of %d bytes is too large for UDP (limit %d, RFC 3428 §8) and sip_uri of gateway %q allows only UDP; use ;transport=tcp",
			size, s.t.opts.MaxUDPSize, s.name)}
	}
	req.SetTransport("TCP")
	return nil
}

// transportError classifies a failure to get a final response. A cancelled ctx is returned as it
// is, so that it is not retried; anything else (no answer, refused connection, DNS) is temporary.
func (s *sender) transportError(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return &gateway.SendError{Temporary: true, Reason: fmt.Sprintf("no answer from SIP gateway %s: %v", s.name, err)}
}

// classify maps a final response to Send's result. 2xx is success: 200 means delivered, 202
// accepted by a gateway or store (RFC 3428 §4); neither means read. 408 Request Timeout, 480
// Temporarily Unavailable and 503 Service Unavailable are temporary, and their Retry-After is
// honoured (RFC 3261 §20.33). Every other 3xx-6xx is final: redirects are not followed, 4xx/5xx
// say the message was not delivered, 6xx that it was refused (RFC 3428 §7).
func classify(res *sip.Response) error {
	if res.IsSuccess() {
		return nil
	}
	se := &gateway.SendError{Status: res.StatusCode, Reason: res.Reason}
	if se.Reason == "" {
		se.Reason = "SIP status " + strconv.Itoa(res.StatusCode)
	}
	switch res.StatusCode {
	case sip.StatusRequestTimeout, sip.StatusTemporarilyUnavailable, sip.StatusServiceUnavailable:
		se.Temporary = true
		if h := res.GetHeader("Retry-After"); h != nil {
			se.RetryAfter = parseRetryAfter(h.Value())
		}
	}
	return se
}

// maxRetryAfter caps a gateway's Retry-After, which is otherwise up to 2^32-1 seconds.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads the delta-seconds that start a Retry-After value ("120 (busy);duration=60");
// anything else gives 0.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	n := 0
	for n < len(v) && n < 10 && '0' <= v[n] && v[n] <= '9' {
		n++
	}
	secs, err := strconv.ParseInt(v[:n], 10, 64)
	if err != nil {
		return 0
	}
	return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
}
