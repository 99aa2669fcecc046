package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// The URL of an inbound link comes from a gateway and is not trusted: fetched blindly, it could
// make the bridge read its own network (SSRF). So the bridge fetches only https (http too if
// network.media.fetch.allow_http), connects only to public addresses unless
// network.media.fetch.allow_private lists them, and checks the address it actually connects to, so
// that a name resolving to a public address when checked and to a private one when used gains
// nothing. Redirects must keep the scheme. Environment proxies are not used: they would hide the
// address. The fetch is bounded in time and reads at most network.media.max_size bytes.

// maxRedirects bounds the redirects followed for one link.
const maxRedirects = 5

// fetcher fetches the files of inbound links.
type fetcher struct {
	client    *http.Client
	timeout   time.Duration
	allowHTTP bool
	maxSize   int
}

// newFetcher returns a fetcher for cfg, which validate has checked.
func newFetcher(cfg MediaConfig) *fetcher {
	allow, _ := cfg.Fetch.allowed()
	dialer := &net.Dialer{
		Timeout: cfg.Fetch.Timeout,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			if a := ap.Addr().Unmap(); !isPublic(a) && !inAny(allow, a) {
				return &addressError{addr: a}
			}
			return nil
		},
	}
	f := &fetcher{timeout: cfg.Fetch.Timeout, allowHTTP: cfg.Fetch.AllowHTTP, maxSize: cfg.MaxSize}
	f.client = &http.Client{
		Transport: &http.Transport{
			DialContext:            dialer.DialContext,
			TLSHandshakeTimeout:    cfg.Fetch.Timeout,
			MaxResponseHeaderBytes: 64 << 10,
			// Links point anywhere: keep a connection for a link that comes again soon, not longer.
			IdleConnTimeout:   30 * time.Second,
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if req.URL.Scheme != via[0].URL.Scheme {
				return &redirectError{to: req.URL.Redacted()}
			}
			return nil
		},
	}
	return f
}

// addressError is a connection refused because the address is not public.
type addressError struct{ addr netip.Addr }

func (e *addressError) Error() string {
	return fmt.Sprintf("%s is not a public address, and this bridge fetches links from public addresses only", e.addr)
}

// redirectError is a redirect to another scheme.
type redirectError struct{ to string }

func (e *redirectError) Error() string {
	return fmt.Sprintf("redirect to %s changes the scheme", e.to)
}

// fetch returns the file at the link raw, or a gateway.Refusal that says why not: 400 for a link
// the bridge will not follow or that answered with a client error, 413 for a file over
// network.media.max_size, 503 for what may work later (a network error, a timeout, a server error).
func (f *fetcher) fetch(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "link %q: %v", raw, err)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && f.allowHTTP) {
		return nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "link %s: this bridge does not fetch %s: links", u.Redacted(), u.Scheme)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "link %s: %v", u.Redacted(), err)
	}
	req.Header.Set("User-Agent", "matrix-cpim")
	resp, err := f.client.Do(req)
	if err != nil {
		var addr *addressError
		var redirect *redirectError
		if errors.As(err, &addr) || errors.As(err, &redirect) {
			return nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "link %s: %v", u.Redacted(), errors.Unwrap(err))
		}
		return nil, gateway.Refuse(http.StatusServiceUnavailable, gateway.CodeInternal, "could not fetch the link %s now: %v", u.Redacted(), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	switch s := resp.StatusCode; {
	case s == http.StatusOK:
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return nil, gateway.Refuse(http.StatusServiceUnavailable, gateway.CodeInternal, "the link %s answered %s; try again later", u.Redacted(), resp.Status)
	default:
		return nil, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "the link %s answered %s", u.Redacted(), resp.Status)
	}
	tooLarge := gateway.Refuse(http.StatusRequestEntityTooLarge, gateway.CodeTooLarge, "the file at %s is over %d bytes, the largest this bridge accepts", u.Redacted(), f.maxSize)
	if resp.ContentLength > int64(f.maxSize) {
		return nil, tooLarge
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(f.maxSize)+1))
	if err != nil {
		return nil, gateway.Refuse(http.StatusServiceUnavailable, gateway.CodeInternal, "could not read the file at %s now: %v", u.Redacted(), err)
	}
	if len(data) > f.maxSize {
		return nil, tooLarge
	}
	return data, nil
}

// specialPrefixes are addresses that netip does not call private or link-local but that are not
// on the public internet either, or that lead to an IPv4 address of any kind (NAT64, 6to4).
var specialPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network", RFC 791
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT, RFC 6598
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments, RFC 6890
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking, RFC 2544
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved, RFC 1112
	netip.MustParsePrefix("64:ff9b::/96"),  // NAT64, RFC 6052
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"), // 6to4, RFC 3056
}

// isPublic reports whether a is a unicast address on the public internet: not loopback, private,
// link-local, multicast, unspecified or one of specialPrefixes.
func isPublic(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate() && !inAny(specialPrefixes, a)
}

func inAny(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
