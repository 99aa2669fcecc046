package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/gateway/httpgw"
)

const serveHelp = `Usage: cpimtool serve --token TOKEN [--listen ADDR] [--status CODE]
                     [--reply-to URL --reply-token TOKEN (--echo | --reply TEXT)]

Run a minimal gateway of the HTTP binding (docs/http-binding.md) for
testing the bridge: point a gateway's url in the bridge's config at it.
It accepts POST on any path with "Authorization: Bearer TOKEN" (the
gateway's token in the bridge's config; else 401), parses the CPIM body
strictly (else 400), prints each message on standard output and answers
--status: 200 by default, or an error such as 403 or 503 to see how the
bridge reacts.  A message sent again with an Idempotency-Key already
answered with success is acknowledged but not shown or replied to twice.

With --echo, every message answered with success gets a reply "echo: "
and its text; with --reply, the reply is TEXT.  The reply goes from the
message's first To to its From, POSTed to --reply-to (the bridge's
/_cpim/v1/message) with --reply-token (the gateway's inbound_token),
and is retried like the bridge retries for up to 10 minutes.

Listen on a loopback address: tokens and messages travel in clear text.
SIGINT (Ctrl-C) or SIGTERM stops it.

Examples:
  cpimtool serve --listen 127.0.0.1:29361 --token "$BRIDGE_TOKEN"
  cpimtool serve --listen 127.0.0.1:29361 --token "$BRIDGE_TOKEN" \
      --reply-to http://127.0.0.1:29360/_cpim/v1/message --reply-token "$INBOUND_TOKEN" --echo
  cpimtool serve --token "$BRIDGE_TOKEN" --status 503
  cpimtool serve --token "$BRIDGE_TOKEN" --status 404
`

// Bounds of serve.
const (
	serveMaxBody   = httpgw.DefaultMaxBody
	maxRecentKeys  = 4096
	shutdownGrace  = 5 * time.Second
	maxShownLength = 4 << 10 // text shown per message
)

// errcodes are the errcodes of docs/http-binding.md §3 that --status can
// answer with; any 5xx answers CPIM_INTERNAL.
var errcodes = map[int]string{
	http.StatusBadRequest:            gateway.CodeMalformed,
	http.StatusUnauthorized:          gateway.CodeUnauthorized,
	http.StatusForbidden:             gateway.CodeForbiddenFrom,
	http.StatusNotFound:              gateway.CodeUnknownUser,
	http.StatusRequestEntityTooLarge: gateway.CodeTooLarge,
	http.StatusUnsupportedMediaType:  gateway.CodeBadContentType,
	http.StatusTooManyRequests:       gateway.CodeRateLimited,
}

func runServe(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:29361", "`address` to listen on")
	token := fs.String("token", "", "bearer `token` the bridge sends: the gateway's token in its config (required)")
	status := fs.Int("status", http.StatusOK, "HTTP status `code` to answer messages with: 2xx, 400, 401, 403, 404, 413, 415, 429 or 5xx")
	replyTo := fs.String("reply-to", "", "`URL` to POST replies to: the bridge's /_cpim/v1/message")
	replyToken := fs.String("reply-token", "", "bearer `token` for replies: the gateway's inbound_token in the bridge's config")
	echo := fs.Bool("echo", false, `reply "echo: " and the text of each message`)
	replyText := fs.String("reply", "", "reply `text` to each message")
	if st, ok := parseFlags(fs, serveHelp, args, stdout, stderr); !ok {
		return st
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	replying := *echo || set["reply"]
	switch {
	case fs.NArg() > 0:
		return usageError(stderr, "serve", "unexpected argument %q", fs.Arg(0))
	case *token == "":
		return usageError(stderr, "serve", "--token is required")
	case !validStatus(*status):
		return usageError(stderr, "serve", "--status %d: want 2xx, 5xx or one of 400, 401, 403, 404, 413, 415, 429", *status)
	case *echo && set["reply"]:
		return usageError(stderr, "serve", "--echo and --reply exclude each other")
	case replying && *replyTo == "":
		return usageError(stderr, "serve", "--echo and --reply need --reply-to, the bridge's /_cpim/v1/message URL")
	case !replying && (*replyTo != "" || *replyToken != ""):
		return usageError(stderr, "serve", "--reply-to and --reply-token go with --echo or --reply")
	case replying && *replyToken == "":
		return usageError(stderr, "serve", "--reply-token is required with --reply-to")
	case *replyToken != "" && *replyToken == *token:
		return usageError(stderr, "serve", "--token and --reply-token must differ (docs/http-binding.md §1)")
	case !utf8.ValidString(*replyText):
		return usageError(stderr, "serve", "--reply is not valid UTF-8")
	}
	s := &server{
		token:  sha256.Sum256([]byte(*token)),
		status: *status,
		out:    &lockedWriter{w: stdout},
		recent: recentKeys{index: map[string]int{}},
	}
	if replying {
		if u, err := url.Parse(*replyTo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError(stderr, "serve", "--reply-to %q is not an http(s) URL", *replyTo)
		}
		s.replyTo = *replyTo
		s.bridge = httpgw.NewClient(&gateway.Config{Name: "bridge", Transport: gateway.TransportHTTP, URL: *replyTo, Token: *replyToken}, nil)
		s.replyText = func(string) string { return *replyText }
		if *echo {
			s.replyText = func(text string) string { return "echo: " + text }
		}
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "cpimtool: %v\n", err)
		return exitFail
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s.banner(ln.Addr(), stderr)
	if err := s.run(ctx, ln); err != nil {
		fmt.Fprintf(stderr, "cpimtool: %v\n", err)
		return exitFail
	}
	return exitOK
}

func validStatus(code int) bool {
	_, known := errcodes[code]
	return code >= 200 && code <= 299 || code >= 500 && code <= 599 || known
}

// server is the gateway serve runs.
type server struct {
	token     [sha256.Size]byte // of --token, compared in constant time
	status    int
	replyTo   string              // "" when not replying
	bridge    gateway.Sender      // sends replies to replyTo
	replyText func(string) string // the reply to a message's text
	out       *lockedWriter
	recent    recentKeys

	mu       sync.Mutex
	count    int  // messages shown, numbering them
	stopping bool // set once no reply may start, as replies.Wait has begun
	replies  sync.WaitGroup
	// replyCtx ends the retries of pending replies at shutdown.
	replyCtx context.Context
}

func (s *server) banner(addr net.Addr, stderr io.Writer) {
	s.out.printf("cpimtool serve: listening on http://%s/ (any path), answering %d %s\n", addr, s.status, http.StatusText(s.status))
	if s.replyTo != "" {
		s.out.printf("cpimtool serve: replying to %s\n", s.replyTo)
	}
	s.out.printf("cpimtool serve: Ctrl-C stops\n")
	if tcp, ok := addr.(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		fmt.Fprintf(stderr, "cpimtool serve: warning: %s is reachable from other machines; tokens and messages travel in clear text\n", addr)
	}
}

// run serves on ln until ctx ends, then lets requests in progress finish
// and gives pending replies shutdownGrace before abandoning them.
func (s *server) run(ctx context.Context, ln net.Listener) error {
	replyCtx, cancelReplies := context.WithCancel(context.Background())
	defer cancelReplies()
	s.replyCtx = replyCtx
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.out.printf("cpimtool serve: stopping\n")
	grace, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(grace)
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.replies.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-grace.Done():
		cancelReplies()
		<-done
	}
	return err
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "only POST", http.StatusMethodNotAllowed)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="cpim"`)
		s.refuse(w, r, http.StatusUnauthorized, gateway.CodeUnauthorized, "missing or wrong bearer token (cpimtool serve --token)")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.EqualFold(mediaType(ct), httpgw.ContentType) {
		s.refuse(w, r, http.StatusUnsupportedMediaType, gateway.CodeBadContentType, fmt.Sprintf("Content-Type is %q, want %s", ct, httpgw.ContentType))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, serveMaxBody))
	if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
		s.refuse(w, r, http.StatusRequestEntityTooLarge, gateway.CodeTooLarge, fmt.Sprintf("the body exceeds %d bytes", serveMaxBody))
		return
	} else if err != nil {
		s.refuse(w, r, http.StatusBadRequest, gateway.CodeMalformed, fmt.Sprintf("reading the body: %v", err))
		return
	}
	p := cpim.Parser{MaxBody: serveMaxBody}
	m, err := p.Parse(body)
	if errors.Is(err, cpim.ErrTooLarge) {
		s.refuse(w, r, http.StatusRequestEntityTooLarge, gateway.CodeTooLarge, err.Error())
		return
	} else if err != nil {
		s.refuse(w, r, http.StatusBadRequest, gateway.CodeMalformed, err.Error())
		return
	}
	ok := s.status <= 299
	key := gateway.IdempotencyKey(r.Header.Get("Idempotency-Key"), m)
	if key == "" {
		key = gateway.BodyKey(body)
	}
	if ok {
		if n, dup := s.recent.lookup(key); dup {
			s.out.printf("%s duplicate of message #%d, answered %s\n", now(), n, statusLine(s.status))
			writeJSON(w, s.status, map[string]string{"status": "accepted"})
			return
		}
	}
	n := s.show(m)
	if !ok {
		code := errcodes[s.status]
		if code == "" {
			code = gateway.CodeInternal
		}
		if s.status == http.StatusTooManyRequests || s.status >= 500 {
			w.Header().Set("Retry-After", "1")
		}
		writeJSON(w, s.status, map[string]string{"errcode": code, "error": fmt.Sprintf("cpimtool serve answers %d as --status asks", s.status)})
		return
	}
	s.recent.add(key, n)
	writeJSON(w, s.status, map[string]string{"status": "accepted"})
	if s.replyTo != "" {
		// Answer first, so that the bridge has the outcome of its message
		// before the reply reaches it.
		_ = http.NewResponseController(w).Flush()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.stopping {
			s.out.printf("%s #%d not replied to: stopping\n", now(), n)
			return
		}
		s.replies.Add(1)
		go func() {
			defer s.replies.Done()
			s.reply(n, m)
		}()
	}
}

func (s *server) authorized(r *http.Request) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(sum[:], s.token[:]) == 1
}

// refuse answers with an error of docs/http-binding.md §3 and says so,
// since a refused request is usually a configuration mistake.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, status int, code, reason string) {
	s.out.printf("%s refused a request from %s: %s %s: %s\n", now(), r.RemoteAddr, statusLine(status), code, oneLine(reason))
	writeJSON(w, status, map[string]string{"errcode": code, "error": reason})
}

// show prints m as one block and returns its number.
func (s *server) show(m *cpim.Message) int {
	s.mu.Lock()
	s.count++
	n := s.count
	s.mu.Unlock()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s message #%d, answered %s\n", now(), n, statusLine(s.status))
	field := func(name, value string) { fmt.Fprintf(&b, "    %-8s %s\n", name+":", oneLine(value)) }
	field("From", m.From.String())
	for _, a := range m.To {
		field("To", a.String())
	}
	for _, a := range m.Cc {
		field("Cc", a.String())
	}
	for _, sub := range m.Subject {
		if sub.Lang != "" {
			field("Subject", "("+sub.Lang+") "+sub.Value)
		} else {
			field("Subject", sub.Value)
		}
	}
	if id := imdn.MessageID(m); id != "" {
		field("ID", id)
	}
	field("Type", m.Content.Get("Content-Type"))
	if text, ok := textOf(&m.Content); ok {
		if len(text) > maxShownLength {
			text = strings.ToValidUTF8(text[:maxShownLength], "") + "…"
		}
		lines := strings.Split(terminalSafe(text), "\n")
		field("Text", lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "    %-8s %s\n", "", l)
		}
	} else {
		field("Body", fmt.Sprintf("%d bytes", len(m.Content.Body)))
	}
	s.out.write(b.Bytes())
	return n
}

// reply sends the reply to message n, m, back to the bridge.
func (s *server) reply(n int, m *cpim.Message) {
	if len(m.To) == 0 || m.From.URI == "" {
		s.out.printf("%s #%d not replied to: the message lacks a From or a To\n", now(), n)
		return
	}
	text, ok := textOf(&m.Content)
	if !ok {
		text = fmt.Sprintf("[%s, %d bytes]", m.Content.Type(), len(m.Content.Body))
	}
	r := cpim.NewText(m.To[0], cpim.Address{URI: m.From.URI}, s.replyText(text))
	r.DateTime = time.Now().UTC().Truncate(time.Second)
	id := imdn.NewMessageID()
	r.Add(imdn.Namespace, imdn.Prefix, imdn.HeaderMessageID, id)
	out := gateway.NewOutbound(id, r)
	err := gateway.Deliver(s.replyCtx, attemptPrinter{s, n}, out, gateway.RetryPolicy{})
	if err != nil {
		s.out.printf("%s #%d reply failed: %s\n", now(), n, oneLine(err.Error()))
		return
	}
	s.out.printf("%s #%d reply delivered: %s -> %s\n", now(), n, r.From.URI, r.To[0].URI)
}

// attemptPrinter tells of failed attempts that Deliver will retry, so
// that a reply to an unreachable bridge is not silent for minutes.
type attemptPrinter struct {
	s *server
	n int
}

func (a attemptPrinter) Send(ctx context.Context, out *gateway.Outbound) error {
	err := a.s.bridge.Send(ctx, out)
	if err != nil && gateway.IsTemporary(err) && ctx.Err() == nil {
		a.s.out.printf("%s #%d reply not taken yet: %s\n", now(), a.n, oneLine(err.Error()))
	}
	return err
}

// textOf returns the content as text if it is text in UTF-8 (or ASCII)
// without a transfer encoding: text/*, or XML or JSON, which the bridge
// sends for IMDNs and isComposing.
func textOf(c *cpim.Content) (string, bool) {
	t := c.Type()
	isText := strings.HasPrefix(t, "text/") || strings.HasSuffix(t, "+xml") || strings.HasSuffix(t, "/xml") ||
		strings.HasSuffix(t, "+json") || strings.HasSuffix(t, "/json")
	switch strings.ToLower(c.TypeParams()["charset"]) {
	case "", "utf-8", "us-ascii":
	default:
		isText = false
	}
	switch strings.ToLower(c.Get("Content-Transfer-Encoding")) {
	case "", "7bit", "8bit", "binary":
	default:
		isText = false
	}
	if !isText || !utf8.Valid(c.Body) {
		return "", false
	}
	return strings.ReplaceAll(string(c.Body), "\r\n", "\n"), true
}

func mediaType(ct string) string {
	t, _, _ := strings.Cut(ct, ";")
	return strings.TrimSpace(t)
}

func statusLine(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }

func now() string { return time.Now().Format("2006-01-02 15:04:05") }

func writeJSON(w http.ResponseWriter, status int, v map[string]string) {
	b, _ := json.Marshal(v) // strings only: cannot fail
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// recentKeys remembers the idempotency keys of the last maxRecentKeys
// messages answered with success, so that a retry of one is acknowledged
// without a second block or reply (docs/http-binding.md §5, §6).
type recentKeys struct {
	mu    sync.Mutex
	index map[string]int // key -> message number
	order []string       // keys, oldest first
}

func (k *recentKeys) lookup(key string) (n int, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n, ok = k.index[key]
	return n, ok
}

func (k *recentKeys) add(key string, n int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.index[key]; ok {
		return
	}
	if len(k.order) == maxRecentKeys {
		delete(k.index, k.order[0])
		k.order = k.order[1:]
	}
	k.index[key] = n
	k.order = append(k.order, key)
}

// lockedWriter serializes the output of concurrent requests and replies,
// one whole block at a time.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) write(b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(b)
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.write(fmt.Appendf(nil, format, args...))
}
