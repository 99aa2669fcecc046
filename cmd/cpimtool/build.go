package main

import (
	"flag"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

const buildHelp = `Usage: cpimtool build --from URI [--from-name NAME] --to URI [--to URI]...
                     [--subject TEXT] (--text TEXT | --file FILE --type MEDIA-TYPE)

Write a new Message/CPIM object (RFC 3862) on standard output in the form a
SIP MESSAGE or MSRP SEND carries: CPIM headers from "From:" on, a blank
line, then the content.  Lines end in CRLF and DateTime is the current
time.  Each --to adds a To header.  --text sends text/plain in UTF-8;
--file sends the octets of FILE ("-" for standard input) unchanged as
--type.

Examples:
  cpimtool build --from im:alice@example.com --to im:bob@example.com --text 'Hello'
  cpimtool build --from im:alice@example.com --from-name 'Alice Liddell' \
      --to im:bob@example.com --to im:carol@example.com --subject Lunch --text 'Noon?'
  cpimtool build --from im:a@example.com --to im:b@example.com --file pic.png --type image/png
  cpimtool build --from im:a@example.com --to im:b@example.com --text hi | cpimtool parse
`

// multiFlag collects the values of a repeatable flag.
type multiFlag []string

func (f *multiFlag) String() string     { return strings.Join(*f, ", ") }
func (f *multiFlag) Set(v string) error { *f = append(*f, v); return nil }

func runBuild(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	from := fs.String("from", "", "sender `URI` (required)")
	fromName := fs.String("from-name", "", "sender display `name`")
	var to multiFlag
	fs.Var(&to, "to", "recipient `URI` (required, repeatable)")
	subject := fs.String("subject", "", "Subject `text`")
	text := fs.String("text", "", "text/plain content")
	file := fs.String("file", "", "content `file`, sent as is")
	mediaType := fs.String("type", "", "media type of --file, e.g. image/png")
	if status, ok := parseFlags(fs, buildHelp, args, stdout, stderr); !ok {
		return status
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case fs.NArg() > 0:
		return usageError(stderr, "build", "unexpected argument %q", fs.Arg(0))
	case *from == "":
		return usageError(stderr, "build", "--from is required")
	case len(to) == 0:
		return usageError(stderr, "build", "at least one --to is required")
	case set["text"] == set["file"]:
		return usageError(stderr, "build", "exactly one of --text and --file is required")
	case set["file"] != set["type"]:
		return usageError(stderr, "build", "--type goes with --file, and --file needs it")
	}
	if _, err := cpim.ParseURI(*from); err != nil {
		return usageError(stderr, "build", "--from %q: %v", *from, err)
	}
	m := &cpim.Message{
		From:     cpim.Address{Name: *fromName, URI: *from},
		DateTime: time.Now().UTC().Truncate(time.Second),
	}
	for _, u := range to {
		if _, err := cpim.ParseURI(u); err != nil {
			return usageError(stderr, "build", "--to %q: %v", u, err)
		}
		m.To = append(m.To, cpim.Address{URI: u})
	}
	if *subject != "" {
		m.Subject = []cpim.Subject{{Value: *subject}}
	}
	for _, s := range []struct{ flag, value string }{{"from-name", *fromName}, {"subject", *subject}, {"text", *text}} {
		if !utf8.ValidString(s.value) {
			return usageError(stderr, "build", "--%s is not valid UTF-8", s.flag)
		}
	}
	contentType, body := "text/plain; charset=utf-8", []byte(*text)
	if set["file"] {
		if _, _, err := mime.ParseMediaType(*mediaType); err != nil || !strings.Contains(*mediaType, "/") {
			return usageError(stderr, "build", "--type %q is not a media type", *mediaType)
		}
		b, err := readInput(*file, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "cpimtool: %v\n", err)
			return exitFail
		}
		contentType, body = *mediaType, b
	}
	m.Content.Header = []cpim.Field{{Name: "Content-Type", Value: contentType}}
	m.Content.Body = body
	if _, err := stdout.Write(m.Bytes()); err != nil {
		fmt.Fprintf(stderr, "cpimtool: %v\n", err)
		return exitFail
	}
	return exitOK
}
