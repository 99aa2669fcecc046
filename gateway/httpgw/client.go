// Package httpgw is the HTTP binding of the RFC 3860 message operation (docs/http-binding.md): a
// CPIM message is one POST with Content-Type message/cpim, authenticated by a bearer token, and the
// HTTP status is the operation's response. Client sends to a gateway; NewHandler receives from one.
package httpgw

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// ContentType is the media type of every message body in this binding (RFC 3862 §2.1).
const ContentType = "message/cpim"

// Limits of what the client reads back from a gateway.
const (
	maxErrorBody = 16 << 10 // error answers read and parsed
	maxDrain     = 64 << 10 // success bodies discarded to reuse the connection
	maxReasonLen = 200      // gateway text kept in SendError.Reason
	maxRetryWait = 24 * time.Hour
)

// Client sends messages to one HTTP gateway. It implements gateway.Sender.
type Client struct {
	gw *gateway.Config
	hc *http.Client
}

// NewClient returns a client for gw. A nil hc gets DefaultHTTPClient.
func NewClient(gw *gateway.Config, hc *http.Client) *Client {
	if hc == nil {
		hc = DefaultHTTPClient()
	}
	return &Client{gw: gw, hc: hc}
}

// DefaultHTTPClient bounds every stage of a request, so that a stalled gateway costs one attempt
// rather than the whole delivery, and does not follow redirects: a gateway answers, it does not
// send the message elsewhere (a 3xx is a permanent failure).
func DefaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	t.MaxIdleConnsPerHost = 4
	return &http.Client{
		Transport:     t,
		Timeout:       time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Send makes one attempt to deliver out: POST gw.URL with the message as body and out.TransID as
// Idempotency-Key. A 2xx answer is success. 408, 429, 5xx and network errors are temporary
// *gateway.SendErrors carrying the gateway's Retry-After; any other answer is a permanent one whose
// Reason is the gateway's error text.
func (c *Client) Send(ctx context.Context, out *gateway.Outbound) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.gw.URL, bytes.NewReader(out.Body))
	if err != nil {
		return &gateway.SendError{Reason: fmt.Sprintf("gateway %q: bad URL: %v", c.gw.Name, err)}
	}
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Accept", "application/json")
	if c.gw.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.gw.Token)
	}
	if out.TransID != "" {
		req.Header.Set("Idempotency-Key", out.TransID)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("gateway %q: %w", c.gw.Name, ctx.Err())
		}
		return &gateway.SendError{Temporary: true, Reason: fmt.Sprintf("gateway %q unreachable: %v", c.gw.Name, unwrapURLError(err))}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &gateway.SendError{
		Temporary:  isTemporaryStatus(resp.StatusCode),
		Status:     resp.StatusCode,
		Reason:     errorText(resp, body),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
}

func isTemporaryStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// unwrapURLError drops the "Post <url>:" prefix of http.Client errors; the gateway name says where.
func unwrapURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// errorText is what the gateway said about a failure: the "error" member of a JSON error body
// (docs/http-binding.md), else the start of a plain-text body, else the status text. HTML error
// pages of proxies say nothing a Matrix user can read, so they give the status text.
func errorText(resp *http.Response, body []byte) string {
	var e struct {
		ErrCode string `json:"errcode"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil {
		if t := clean(e.Error); t != "" {
			return t
		}
		if t := clean(e.ErrCode); t != "" {
			return t
		}
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); ct == "" || (err == nil && mt == "text/plain") {
		if t := clean(string(body)); t != "" {
			return t
		}
	}
	if t := http.StatusText(resp.StatusCode); t != "" {
		return t
	}
	return "status " + strconv.Itoa(resp.StatusCode)
}

// clean makes gateway text fit for a one-line Matrix notice: valid UTF-8, whitespace runs and
// control characters collapsed to one space, at most maxReasonLen bytes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if len(s) <= maxReasonLen {
		return s
	}
	cut := maxReasonLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// parseRetryAfter reads a Retry-After value, delay-seconds or HTTP-date (RFC 9110 §10.2.3), as a
// wait from now. Unparsable or past values give 0; absurd ones are capped at maxRetryWait.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(maxRetryWait/time.Second) {
			return maxRetryWait
		}
		return time.Duration(secs) * time.Second
	} else if errors.Is(err, strconv.ErrRange) {
		return maxRetryWait
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	return min(max(t.Sub(now), 0), maxRetryWait)
}

var _ gateway.Sender = (*Client)(nil)
