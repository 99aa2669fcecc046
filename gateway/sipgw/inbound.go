package sipgw

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emiago/sipgo/sip"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/gateway"
)

const (
	// acceptTimeout bounds the Acceptor, well within the 32 s a SIP client waits for a final
	// response to a non-INVITE request (RFC 3261 §17.1.2.2, Timer F = 64*T1).
	acceptTimeout = 20 * time.Second
	// busyRetryAfter is the Retry-After of a 503 when the cause gives no delay: RFC 3261 §21.5.4
	// has a client treat a 503 without Retry-After like a 500, which would lose the message.
	busyRetryAfter = 10 * time.Second
	// maxReasonLen bounds a reason phrase taken from a refusal.
	maxReasonLen = 200

	allowHeader  = "MESSAGE, OPTIONS"
	acceptHeader = "message/cpim, text/plain"
)

func (t *Transport) onMessage(req *sip.Request, tx sip.ServerTransaction) {
	ctx, cancel := context.WithTimeout(context.Background(), acceptTimeout)
	defer cancel()
	t.respond(tx, t.answer(ctx, req))
}

// onOptions answers capability queries, which SIP proxies also send to see that a peer is alive
// (RFC 3261 §11.2).
func (t *Transport) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowHeader))
	res.AppendHeader(sip.NewHeader("Accept", acceptHeader))
	t.respond(tx, res)
}

// onOther answers every other method: 405 for methods SIP defines, which we know but do not
// serve, 501 for those we do not know (RFC 3261 §8.2.1, §21.5.2). An ACK gets no response, and a
// CANCEL matches nothing, since every MESSAGE is answered at once.
func (t *Transport) onOther(req *sip.Request, tx sip.ServerTransaction) {
	var res *sip.Response
	switch req.Method {
	case sip.ACK:
		return
	case sip.CANCEL:
		res = sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil)
	case sip.INVITE, sip.BYE, sip.REGISTER, sip.SUBSCRIBE, sip.NOTIFY, sip.REFER, sip.INFO, sip.PRACK, sip.UPDATE, sip.PUBLISH:
		res = sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil)
	default:
		res = sip.NewResponseFromRequest(req, sip.StatusNotImplemented, "Not Implemented", nil)
	}
	res.AppendHeader(sip.NewHeader("Allow", allowHeader))
	t.respond(tx, res)
}

func (t *Transport) respond(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		t.log.Warn("SIP response not sent", "status", res.StatusCode, "error", err)
	}
}

// answer decides the final response to an inbound MESSAGE: the gateway is recognised by source
// address (and digest credentials, if it has a secret), the body is decoded into a CPIM message,
// the shared address rules are applied, and the Acceptor takes it. Only then is it 202 Accepted,
// the answer of a gateway into a non-SIP domain (RFC 3428 §7).
func (t *Transport) answer(ctx context.Context, req *sip.Request) *sip.Response {
	src, err := netip.ParseAddrPort(req.Source())
	peers := t.peersAt(src.Addr().Unmap())
	if err != nil || len(peers) == 0 {
		return t.refuse(req, nil, gateway.Refuse(http.StatusForbidden, gateway.CodeUnauthorized,
			"source address %s is not allowed for any gateway", src.Addr()))
	}
	if tags := req.GetHeaders("Require"); len(tags) > 0 {
		// RFC 3261 §8.2.2.3: we support no SIP extension, so none may be required of us.
		res := sip.NewResponseFromRequest(req, sip.StatusBadExtension, "Bad Extension", nil)
		for _, h := range tags {
			res.AppendHeader(sip.NewHeader("Unsupported", h.Value()))
		}
		return res
	}
	if mf := req.MaxForwards(); mf != nil && *mf == 0 {
		// RFC 3860 §3.4.2: a gateway that gets a message with no hops left discards it and fails.
		return sip.NewResponseFromRequest(req, sip.StatusTooManyHops, "Too Many Hops", nil)
	}
	m, ref := t.decode(req)
	if ref != nil {
		return t.refuse(req, nil, ref)
	}
	peer, ref := pickPeer(peers, m)
	if ref != nil {
		return t.refuse(req, nil, ref)
	}
	if peer.DigestUsername != "" {
		var auth string
		if h := req.GetHeader("Authorization"); h != nil {
			auth = h.Value()
		}
		switch t.guard.verify(auth, string(req.Method), peer.DigestUsername, peer.DigestPassword) {
		case authMissing:
			return t.challenge(req, false, "Unauthorized")
		case authStale:
			return t.challenge(req, true, "Unauthorized (stale nonce)")
		case authFailed:
			return t.challenge(req, false, "Unauthorized (bad credentials)")
		}
	}
	if ref := gateway.CheckAddresses(peer.Gateway, m, t.opts.LocalDomain); ref != nil {
		return t.refuse(req, peer, ref)
	}
	in := &gateway.Inbound{Gateway: peer.Gateway, Key: idempotencyKey(req, m), Message: m}
	err = t.acc.Accept(ctx, in)
	var refusal *gateway.Refusal
	switch {
	case err == nil:
		return sip.NewResponseFromRequest(req, sip.StatusAccepted, "Accepted", nil)
	case errors.As(err, &refusal):
		return t.refuse(req, peer, refusal)
	default:
		t.log.Error("inbound SIP message not accepted", "gateway", peer.Gateway.Name, "key", in.Key, "error", err)
		return t.refuse(req, peer, gateway.Refuse(http.StatusServiceUnavailable, gateway.CodeInternal, "the message could not be stored; try again"))
	}
}

// peersAt lists the gateways allowed to send from addr.
func (t *Transport) peersAt(addr netip.Addr) []*Peer {
	var out []*Peer
	for i := range t.peers {
		for _, p := range t.peers[i].AllowFrom {
			if p.Contains(addr) {
				out = append(out, &t.peers[i])
				break
			}
		}
	}
	return out
}

// pickPeer chooses among the gateways allowed at the source address (several, when they share a
// SIP proxy) the one that serves the sender's domain.
func pickPeer(peers []*Peer, m *cpim.Message) (*Peer, *gateway.Refusal) {
	if len(peers) == 1 {
		return peers[0], nil
	}
	if from, err := cpim.ParseURI(m.From.URI); err == nil {
		if _, domain, ok := from.Mailbox(); ok {
			for _, p := range peers {
				if p.Gateway.Serves(domain) {
					return p, nil
				}
			}
		}
	}
	return nil, gateway.Refuse(http.StatusForbidden, gateway.CodeForbiddenFrom,
		"no gateway allowed at this source address serves the From address %q", m.From.URI)
}

// idempotencyKey names the message for duplicate suppression: its imdn.Message-ID if it has one,
// since a gateway that tries again after a lost response sends a new request with a new Call-ID;
// otherwise the Call-ID and CSeq number, which identify the request (RFC 3261 §8.1.1.4, §8.1.1.5).
func idempotencyKey(req *sip.Request, m *cpim.Message) string {
	if k := gateway.IdempotencyKey("", m); k != "" {
		return k
	}
	var callID string
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	var seq uint32
	if h := req.CSeq(); h != nil {
		seq = h.SeqNo
	}
	return gateway.IdempotencyKey(fmt.Sprintf("sip:%s %d", callID, seq), m)
}

// decode turns the body of a MESSAGE into a CPIM message: message/cpim is parsed (RFC 3862), and
// text/plain, which every SIP UA can send (RFC 3428 §4), is wrapped.
func (t *Transport) decode(req *sip.Request) (*cpim.Message, *gateway.Refusal) {
	body := req.Body()
	if len(body) == 0 {
		return nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "the MESSAGE has no body")
	}
	var ctype string
	if h := req.ContentType(); h != nil {
		ctype = h.Value()
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return nil, gateway.Refuse(http.StatusUnsupportedMediaType, gateway.CodeBadContentType, "Content-Type %q is not a media type", ctype)
	}
	switch mt {
	case "message/cpim":
		p := cpim.Parser{MaxBody: t.opts.MaxMessageSize}
		m, err := p.Parse(body)
		switch {
		case errors.Is(err, cpim.ErrTooLarge):
			return nil, gateway.Refuse(http.StatusRequestEntityTooLarge, gateway.CodeTooLarge, "%v", err)
		case err != nil:
			return nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "%v", err)
		}
		return m, nil
	case "text/plain":
		return wrapText(req, params["charset"])
	default:
		return nil, gateway.Refuse(http.StatusUnsupportedMediaType, gateway.CodeBadContentType, "Content-Type %s is not accepted", mt)
	}
}

// wrapText makes a CPIM message of a text/plain MESSAGE: CPIM From and To are the SIP From and To
// mapped to im: URIs, and the From display name becomes the Formal-name. SIP text is UTF-8 unless
// the charset says otherwise (RFC 3261 §7.4.1), and only UTF-8 (or its subset US-ASCII) is taken.
func wrapText(req *sip.Request, charset string) (*cpim.Message, *gateway.Refusal) {
	switch strings.ToLower(charset) {
	case "", "utf-8", "us-ascii":
	default:
		return nil, gateway.Refuse(http.StatusUnsupportedMediaType, gateway.CodeBadContentType, "charset %q is not supported; send UTF-8", charset)
	}
	body := req.Body()
	if !utf8.Valid(body) {
		return nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "the text/plain body is not valid UTF-8")
	}
	fromHdr, toHdr := req.From(), req.To()
	if fromHdr == nil || toHdr == nil {
		return nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "the MESSAGE lacks From or To")
	}
	from, err := imURIFor(&fromHdr.Address)
	if err != nil {
		return nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "From: %v", err)
	}
	to, err := imURIFor(&toHdr.Address)
	if err != nil {
		return nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "To: %v", err)
	}
	name := unquoteDisplayName(fromHdr.DisplayName)
	return cpim.NewText(cpim.Address{Name: name, URI: from}, cpim.Address{URI: to}, string(body)), nil
}

// challenge is a 401 asking for digest credentials (RFC 3261 §22.1).
func (t *Transport) challenge(req *sip.Request, stale bool, reason string) *sip.Response {
	res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, reason, nil)
	res.AppendHeader(sip.NewHeader("WWW-Authenticate", t.guard.challenge(stale)))
	return res
}

// refuse answers with the SIP response that matches an HTTP-style refusal; peer is the gateway
// the request came from, nil if it is not known yet. The reason phrase carries the refusal's
// reason, and a Warning header (RFC 3261 §20.43, code 399) its machine-readable code.
func (t *Transport) refuse(req *sip.Request, peer *Peer, r *gateway.Refusal) *sip.Response {
	status, retry := sipStatus(r)
	if status == sip.StatusUnauthorized {
		if peer != nil && peer.DigestUsername != "" {
			return t.challenge(req, false, reasonPhrase(r.Reason, "Unauthorized"))
		}
		status = sip.StatusForbidden
	}
	res := sip.NewResponseFromRequest(req, status, reasonPhrase(r.Reason, statusText(status)), nil)
	if r.Code != "" {
		res.AppendHeader(sip.NewHeader("Warning", fmt.Sprintf("399 %s %q", t.opts.LocalDomain, r.Code)))
	}
	if retry > 0 {
		res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second))))
	}
	if status == sip.StatusUnsupportedMediaType {
		res.AppendHeader(sip.NewHeader("Accept", acceptHeader))
	}
	return res
}

// sipStatus maps a refusal's HTTP status to a SIP status, with the Retry-After to send. Codes
// that mean the same in both keep their number; a rate limit becomes 503 with Retry-After, SIP's
// overload answer (RFC 3261 §21.5.4), since SIP has no 429.
func sipStatus(r *gateway.Refusal) (int, time.Duration) {
	switch s := r.Status; {
	case s == http.StatusTooManyRequests:
		return sip.StatusServiceUnavailable, max(r.Retry, time.Second)
	case s == http.StatusServiceUnavailable:
		if r.Retry > 0 {
			return s, r.Retry
		}
		return s, busyRetryAfter
	case s == 400, s == 401, s == 403, s == 404, s == 410, s == 413, s == 415, s == 500, s == 501:
		return s, 0
	case s >= 500:
		return sip.StatusInternalServerError, 0
	default:
		return sip.StatusBadRequest, 0
	}
}

func statusText(code int) string {
	switch code {
	case sip.StatusBadRequest:
		return "Bad Request"
	case sip.StatusForbidden:
		return "Forbidden"
	case sip.StatusNotFound:
		return "Not Found"
	case sip.StatusGone:
		return "Gone"
	case sip.StatusRequestEntityTooLarge:
		return "Request Entity Too Large"
	case sip.StatusUnsupportedMediaType:
		return "Unsupported Media Type"
	case sip.StatusNotImplemented:
		return "Not Implemented"
	case sip.StatusServiceUnavailable:
		return "Service Unavailable"
	default:
		return "Server Internal Error"
	}
}

// reasonPhrase makes a reason fit a status line (RFC 3261 §25.1 Reason-Phrase: no CR or LF):
// control characters become spaces, and it is cut at maxReasonLen bytes on a character boundary.
func reasonPhrase(reason, fallback string) string {
	reason = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, reason)
	reason = strings.TrimSpace(reason)
	if len(reason) > maxReasonLen {
		cut := maxReasonLen
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	if reason == "" {
		return fallback
	}
	return reason
}
