package httpgw

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/gateway"
)

// Path is where gateways POST messages; Pattern registers the handler on an *http.ServeMux.
const (
	Path    = "/_cpim/v1/message"
	Pattern = "POST " + Path
)

// DefaultMaxBody is the default bound of a request body.
const DefaultMaxBody = 1 << 20

// DefaultReadTimeout is the default time a gateway has to send a request body.
const DefaultReadTimeout = 30 * time.Second

// Options tune NewHandler. The zero value is ready to use.
type Options struct {
	// MaxBody bounds the request body in bytes; larger requests get 413. 0 means DefaultMaxBody.
	MaxBody int64
	// ReadTimeout bounds the time to receive a request body; 0 means DefaultReadTimeout.
	ReadTimeout time.Duration
	// Parser parses the bodies. nil means a lenient parser bounded by MaxBody: by the robustness
	// principle a gateway that sends LF line ends or stray spaces still means a message, and as
	// the bridge relays nothing, leniency cannot pass malformed CPIM on.
	Parser *cpim.Parser
	// Logger receives one line per refused request. The zero Logger discards.
	Logger zerolog.Logger
}

type handler struct {
	creds       []credential
	localDomain string
	acc         gateway.Acceptor
	maxBody     int64
	readTimeout time.Duration
	parser      *cpim.Parser
	log         zerolog.Logger
}

// NewHandler returns the receiving end of the HTTP binding (docs/http-binding.md) for the HTTP
// gateways among gws, delivering to users of the im: domain localDomain through acc. It serves
// one endpoint; mount it with Pattern. Inbound.Gateway points into gws.
func NewHandler(gws []gateway.Config, localDomain string, acc gateway.Acceptor, opts Options) http.Handler {
	h := &handler{
		localDomain: localDomain,
		acc:         acc,
		maxBody:     opts.MaxBody,
		readTimeout: opts.ReadTimeout,
		parser:      opts.Parser,
		log:         opts.Logger,
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	if h.readTimeout <= 0 {
		h.readTimeout = DefaultReadTimeout
	}
	if h.parser == nil {
		h.parser = &cpim.Parser{Lenient: true, MaxBody: int(h.maxBody)}
	}
	// A token shared by two gateways would let each post as the other: it identifies neither.
	owner := map[[sha256.Size]byte]*gateway.Config{}
	shared := map[[sha256.Size]byte]bool{}
	for i := range gws {
		gw := &gws[i]
		if gw.Transport != gateway.TransportHTTP || gw.InboundToken == "" {
			continue
		}
		sum := sha256.Sum256([]byte(gw.InboundToken))
		if prev, ok := owner[sum]; ok {
			h.log.Error().Str("gateway", gw.Name).Str("other_gateway", prev.Name).
				Msg("two gateways share an inbound_token; requests bearing it are refused")
			shared[sum] = true
			continue
		}
		owner[sum] = gw
		h.creds = append(h.creds, credential{sum, gw})
	}
	h.creds = slices.DeleteFunc(h.creds, func(c credential) bool { return shared[c.sum] })
	return h
}

// credential is the sha256 of an HTTP gateway's InboundToken, and which gateway it identifies.
type credential struct {
	sum [sha256.Size]byte
	gw  *gateway.Config
}

// errorBody is every error answer of the binding.
type errorBody struct {
	ErrCode string `json:"errcode"`
	Error   string `json:"error"`
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gw := h.authenticate(r)
	if gw == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cpim"`)
		h.refuse(w, r, nil, gateway.Refuse(http.StatusUnauthorized, gateway.CodeUnauthorized, "missing or unknown bearer token"))
		return
	}
	if ct := r.Header.Get("Content-Type"); !isCPIM(ct) {
		h.refuse(w, r, gw, gateway.Refuse(http.StatusUnsupportedMediaType, gateway.CodeBadContentType, "Content-Type is %q, want %s", ct, ContentType))
		return
	}
	if r.ContentLength > h.maxBody {
		h.refuse(w, r, gw, tooLarge(h.maxBody))
		return
	}
	// The appservice listener has no read timeout of its own; without one a client that trickles
	// its body would hold a connection and a goroutine for ever.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.readTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			h.refuse(w, r, gw, tooLarge(h.maxBody))
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			h.refuse(w, r, gw, gateway.Refuse(http.StatusRequestTimeout, gateway.CodeMalformed, "the body did not arrive within %s", h.readTimeout))
		} else {
			h.refuse(w, r, gw, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "reading the body: %v", err))
		}
		return
	}
	m, err := h.parser.Parse(body)
	if err != nil {
		if errors.Is(err, cpim.ErrTooLarge) {
			h.refuse(w, r, gw, gateway.Refuse(http.StatusRequestEntityTooLarge, gateway.CodeTooLarge, "%v", err))
		} else {
			h.refuse(w, r, gw, gateway.Refuse(http.StatusBadRequest, gateway.CodeMalformed, "%v", err))
		}
		return
	}
	if ref := gateway.CheckAddresses(gw, m, h.localDomain); ref != nil {
		h.refuse(w, r, gw, ref)
		return
	}
	key := gateway.IdempotencyKey(r.Header.Get("Idempotency-Key"), m)
	if key == "" {
		key = gateway.BodyKey(body)
	}
	err = h.acc.Accept(r.Context(), &gateway.Inbound{Gateway: gw, Key: key, Message: m})
	if err == nil {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted"})
		return
	}
	ref, ok := errors.AsType[*gateway.Refusal](err)
	if !ok || ref.Status < 400 || ref.Status > 599 {
		h.log.Error().Err(err).Str("gateway", gw.Name).Str("key", key).Msg("accepting an inbound CPIM message failed")
		ref = gateway.Refuse(http.StatusServiceUnavailable, gateway.CodeInternal, "the bridge could not take the message now; retry later")
	}
	h.refuse(w, r, gw, ref)
}

// authenticate finds the HTTP gateway whose inbound token the request bears. Every token is
// compared, in constant time and as a fixed-length hash, so that neither timing nor length tells
// an attacker how close a guess came or which gateway exists.
func (h *handler) authenticate(r *http.Request) *gateway.Config {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	var found *gateway.Config
	for _, c := range h.creds {
		if subtle.ConstantTimeCompare(sum[:], c.sum[:]) == 1 {
			found = c.gw
		}
	}
	return found
}

// isCPIM reports whether a Content-Type names message/cpim; media types and parameter names are
// case-insensitive (RFC 2045 §5.1), so "Message/CPIM; charset=utf-8" is one too.
func isCPIM(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == ContentType
}

func tooLarge(limit int64) *gateway.Refusal {
	return gateway.Refuse(http.StatusRequestEntityTooLarge, gateway.CodeTooLarge, "the body exceeds %d bytes", limit)
}

// refuse answers with ref and logs it; gw is nil for unauthenticated requests.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, gw *gateway.Config, ref *gateway.Refusal) {
	name := ""
	if gw != nil {
		name = gw.Name
	}
	h.log.Warn().Str("gateway", name).Str("remote", r.RemoteAddr).Int("status", ref.Status).
		Str("errcode", ref.Code).Msg(ref.Reason)
	if ref.Status == http.StatusTooManyRequests && ref.Retry > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((ref.Retry+time.Second-1)/time.Second), 10))
	}
	writeJSON(w, ref.Status, errorBody{ErrCode: ref.Code, Error: ref.Reason})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v) // only string fields: cannot fail
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
