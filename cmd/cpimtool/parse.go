package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

const parseHelp = `Usage: cpimtool parse [--lenient] [FILE|-]

Parse a Message/CPIM object (RFC 3862) from FILE, or from standard input
when FILE is "-" or absent, and print it as JSON on standard output.

The input is either what a SIP MESSAGE or MSRP SEND carries, starting at
the CPIM headers ("From: ..."), or a whole MIME entity starting with
"Content-Type: message/cpim" and a blank line; the form is detected.
Malformed input prints "cpimtool: line N: reason" on standard error and
exits with status 1.

JSON keys are always present; absent values are "" or [].  "headers" lists
every CPIM header line in order with its prefix, name, namespace URI and
raw value; "content.body" is the body if it is UTF-8 text, else "", and
"content.body_base64" always holds the exact body octets.

Examples:
  cpimtool parse message.cpim
  cpimtool parse --lenient rfc5438-figure.txt
  printf 'From: <im:a@example.com>\r\nTo: <im:b@example.com>\r\n\r\nContent-Type: text/plain\r\n\r\nHi' | cpimtool parse
  cpimtool parse message.cpim | jq -r .content.type
`

// maxInput bounds what parse reads; the cpim.Parser limits apply within.
const maxInput = 16 << 20

func runParse(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("parse", flag.ContinueOnError)
	lenient := fs.Bool("lenient", false, "accept the deviations deployed peers and RFC figures show (LF line ends, missing blank line, ...)")
	if status, ok := parseFlags(fs, parseHelp, args, stdout, stderr); !ok {
		return status
	}
	if fs.NArg() > 1 {
		return usageError(stderr, "parse", "at most one FILE, got %d", fs.NArg())
	}
	in, err := readInput(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "cpimtool: %v\n", err)
		return exitFail
	}
	p := cpim.Parser{Lenient: *lenient}
	var m *cpim.Message
	if isMIMEEntity(in) {
		m, err = p.ParseMIME(in)
	} else {
		m, err = p.Parse(in)
	}
	if err != nil {
		// A *cpim.SyntaxError reads "line N: reason".
		fmt.Fprintf(stderr, "cpimtool: %v\n", err)
		return exitFail
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(toJSON(m)); err != nil {
		fmt.Fprintf(stderr, "cpimtool: %v\n", err)
		return exitFail
	}
	return exitOK
}

// readInput reads the named file, or stdin for "" and "-", up to maxInput.
func readInput(name string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if name != "" && name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("input exceeds %d octets", maxInput)
	}
	return b, nil
}

// isMIMEEntity reports whether b starts with a Content-Type field naming
// message/cpim, as RFC 3862 §5 figures and multipart parts do, rather
// than with the CPIM headers a SIP or MSRP body starts with.  Field names
// and media types are case-insensitive in MIME.
func isMIMEEntity(b []byte) bool {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	name, value, ok := strings.Cut(string(line), ":")
	if !ok || !strings.EqualFold(name, "Content-Type") {
		return false
	}
	mediaType, _, _ := strings.Cut(value, ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "message/cpim")
}

// The JSON form of a message.  Slices and maps are never nil so that
// every key is present with [] or {} rather than null.
type (
	jsonMessage struct {
		From     jsonAddress       `json:"from"`
		To       []jsonAddress     `json:"to"`
		Cc       []jsonAddress     `json:"cc"`
		DateTime string            `json:"datetime"`
		Subject  []jsonSubject     `json:"subject"`
		NS       map[string]string `json:"ns"`
		Require  []string          `json:"require"`
		Headers  []jsonHeader      `json:"headers"`
		Content  jsonContent       `json:"content"`
	}
	jsonAddress struct {
		Name string `json:"name"`
		URI  string `json:"uri"`
	}
	jsonSubject struct {
		Lang  string `json:"lang"`
		Value string `json:"value"`
	}
	jsonHeader struct {
		Prefix string `json:"prefix"`
		Name   string `json:"name"`
		NS     string `json:"ns"`
		Value  string `json:"value"`
	}
	jsonField struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	jsonContent struct {
		Headers    []jsonField `json:"headers"`
		Type       string      `json:"type"`
		Body       string      `json:"body"`
		BodyBase64 string      `json:"body_base64"`
	}
)

func toJSON(m *cpim.Message) jsonMessage {
	j := jsonMessage{
		From:    jsonAddress(m.From),
		To:      addresses(m.To),
		Cc:      addresses(m.Cc),
		Subject: make([]jsonSubject, 0, len(m.Subject)),
		NS:      make(map[string]string, len(m.NS)),
		Require: append([]string{}, m.Require...),
		Headers: make([]jsonHeader, 0, len(m.Headers)),
		Content: jsonContent{
			Headers:    make([]jsonField, 0, len(m.Content.Header)),
			Type:       m.Content.Type(),
			BodyBase64: base64.StdEncoding.EncodeToString(m.Content.Body),
		},
	}
	if !m.DateTime.IsZero() {
		j.DateTime = m.DateTime.Format(time.RFC3339Nano)
	}
	for _, s := range m.Subject {
		j.Subject = append(j.Subject, jsonSubject(s))
	}
	// A prefix bound twice keeps its last binding, the one in force at
	// the end of the header block.
	for _, ns := range m.NS {
		j.NS[ns.Prefix] = ns.URI
	}
	for _, h := range m.Headers {
		j.Headers = append(j.Headers, jsonHeader{Prefix: h.Prefix, Name: h.Name, NS: h.NS, Value: h.Value})
	}
	for _, f := range m.Content.Header {
		j.Content.Headers = append(j.Content.Headers, jsonField(f))
	}
	if utf8.Valid(m.Content.Body) {
		j.Content.Body = string(m.Content.Body)
	}
	return j
}

func addresses(as []cpim.Address) []jsonAddress {
	out := make([]jsonAddress, 0, len(as))
	for _, a := range as {
		out = append(out, jsonAddress(a))
	}
	return out
}
