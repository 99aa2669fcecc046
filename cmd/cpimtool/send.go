package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/imdn"
	"github.com/matrix-cpim/matrix-cpim/gateway/httpgw"
)

const sendHelp = `Usage: cpimtool send --gateway URL --token TOKEN [--key KEY] [--lenient] [FILE|-]
       cpimtool send --gateway URL --token TOKEN [--key KEY] --from URI --to URI (--text TEXT | ...)

POST one Message/CPIM object as the HTTP binding (docs/http-binding.md)
says: Content-Type message/cpim, "Authorization: Bearer TOKEN" and an
Idempotency-Key.  Send to the bridge's /_cpim/v1/message with the
gateway's inbound_token to play a gateway, or to a gateway's url with the
bridge's token to play the bridge.

The message is read from FILE, or standard input for "-" or no FILE, and
sent octet for octet.  It must parse first, strictly unless --lenient;
if it does not, "cpimtool: line N: reason" is printed and nothing is
sent.  With --from, --to and --text (or any other flag of
"cpimtool build") the message is built as build would instead.

The Idempotency-Key is --key, else the message's imdn.Message-ID, else a
fresh random one.  Send again with the same --key to see a duplicate
accepted without a second delivery.

The answer's status line and body are printed on standard output.  The
exit status is 0 for a 2xx answer; for any other answer
"cpimtool: STATUS ERRCODE: reason" is printed on standard error and the
exit status is 1, as it is when the receiver cannot be reached.

Examples:
  cpimtool send --gateway http://127.0.0.1:29360/_cpim/v1/message --token "$INBOUND_TOKEN" message.txt
  cpimtool send --gateway http://127.0.0.1:29360/_cpim/v1/message --token "$INBOUND_TOKEN" \
      --from im:alice@acme.example --to im:bob@bridge.example --text 'Hello, Bob!'
  cpimtool build --from im:alice@acme.example --to im:bob@bridge.example --text hi |
      cpimtool send --gateway http://127.0.0.1:29360/_cpim/v1/message --token "$INBOUND_TOKEN" --key test-1
  cpimtool send --gateway http://127.0.0.1:29361/ --token "$BRIDGE_TOKEN" --lenient from-the-bridge.txt
`

// maxAnswer bounds the part of an answer send prints.
const maxAnswer = 64 << 10

func runSend(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	target := fs.String("gateway", "", "`URL` to POST to, e.g. the bridge's http://127.0.0.1:29360/_cpim/v1/message (required)")
	token := fs.String("token", "", "bearer `token` the receiver expects (required)")
	key := fs.String("key", "", "Idempotency-Key `value` (default: the imdn.Message-ID, else random)")
	lenient := fs.Bool("lenient", false, "send a FILE that parses only leniently (LF line ends, ...)")
	var mf messageFlags
	mf.register(fs)
	if status, ok := parseFlags(fs, sendHelp, args, stdout, stderr); !ok {
		return status
	}
	build := mf.given(fs)
	switch {
	case *target == "":
		return usageError(stderr, "send", "--gateway is required")
	case *token == "":
		return usageError(stderr, "send", "--token is required")
	case !printableASCII(*token) || strings.Contains(*token, " "):
		return usageError(stderr, "send", "--token must be printable ASCII without spaces")
	case !printableASCII(*key):
		return usageError(stderr, "send", "--key must be printable ASCII")
	case build && fs.NArg() > 0:
		return usageError(stderr, "send", "FILE %q and --from/--to/--text exclude each other", fs.Arg(0))
	case build && *lenient:
		return usageError(stderr, "send", "--lenient applies to a FILE, not to a built message")
	case fs.NArg() > 1:
		return usageError(stderr, "send", "at most one FILE, got %d", fs.NArg())
	}
	if u, err := url.Parse(*target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError(stderr, "send", "--gateway %q is not an http(s) URL", *target)
	}

	var m *cpim.Message
	var body []byte
	if build {
		var status int
		if m, status = mf.message(fs, stdin, stderr); m == nil {
			return status
		}
		body = m.Bytes()
	} else {
		var err error
		if body, err = readInput(fs.Arg(0), stdin); err != nil {
			fmt.Fprintf(stderr, "cpimtool: %v\n", err)
			return exitFail
		}
		p := cpim.Parser{Lenient: *lenient}
		if m, err = p.Parse(body); err != nil {
			fmt.Fprintf(stderr, "cpimtool: %v\n", err)
			if isMIMEEntity(body) {
				fmt.Fprintln(stderr, "cpimtool: the HTTP body starts at the CPIM headers; drop the outer Content-Type line and the blank line after it")
			}
			return exitFail
		}
	}
	if *key == "" {
		*key = imdn.MessageID(m)
	}
	if *key == "" {
		*key = rand.Text()
	}
	return post(*target, *token, *key, body, stdout, stderr)
}

// post makes one request of the binding and reports its answer.  It does
// not retry: the user sees each answer and decides.
func post(target, token, key string, body []byte, stdout, stderr io.Writer) int {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(stderr, "cpimtool: %v\n", err)
		return exitFail
	}
	req.Header.Set("Content-Type", httpgw.ContentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	resp, err := httpgw.DefaultHTTPClient().Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "cpimtool: %v\n", err)
		return exitFail
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		fmt.Fprintf(stderr, "cpimtool: reading the answer: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s %s\n", resp.Proto, resp.Status)
	if len(answer) > 0 {
		fmt.Fprintln(stdout, strings.TrimRight(terminalSafe(string(answer)), "\n"))
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return exitOK
	}
	fmt.Fprintf(stderr, "cpimtool: %s\n", failure(resp, answer))
	return exitFail
}

// failure summarizes an error answer as "STATUS ERRCODE: reason" when it
// has the JSON error body of docs/http-binding.md §3, else as the status.
func failure(resp *http.Response, answer []byte) string {
	var e struct {
		ErrCode string `json:"errcode"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(answer, &e) != nil || e.ErrCode == "" {
		return resp.Status
	}
	s := fmt.Sprintf("%d %s", resp.StatusCode, e.ErrCode)
	if e.Error != "" {
		s += ": " + e.Error
	}
	return oneLine(s)
}

// printableASCII reports whether s is made of %x20-7E, what an HTTP
// header value can carry as it is (docs/http-binding.md §2).
func printableASCII(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r > 0x7e })
}

// terminalSafe makes untrusted text fit to print on a terminal: invalid
// UTF-8 becomes U+FFFD and control characters other than newline and tab
// are shown as escapes, so that a message cannot move the cursor or
// change the terminal's settings.
func terminalSafe(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\x%02x", r)
		case r >= 0x80 && r <= 0x9f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// oneLine is terminalSafe with every run of whitespace made one space.
func oneLine(s string) string {
	return strings.Join(strings.Fields(terminalSafe(s)), " ")
}
