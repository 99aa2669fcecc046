package main

import (
	"flag"
	"fmt"
	"io"
	"mime"
	"slices"
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
	var mf messageFlags
	mf.register(fs)
	if status, ok := parseFlags(fs, buildHelp, args, stdout, stderr); !ok {
		return status
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "build", "unexpected argument %q", fs.Arg(0))
	}
	m, status := mf.message(fs, stdin, stderr)
	if m == nil {
		return status
	}
	if _, err := stdout.Write(m.Bytes()); err != nil {
		fmt.Fprintf(stderr, "cpimtool: %v\n", err)
		return exitFail
	}
	return exitOK
}

// messageFlags describe a new message; build and send share them.
type messageFlags struct {
	from, fromName, subject, text, file, mediaType string
	to                                             multiFlag
}

func (mf *messageFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&mf.from, "from", "", "sender `URI` (required)")
	fs.StringVar(&mf.fromName, "from-name", "", "sender display `name`")
	fs.Var(&mf.to, "to", "recipient `URI` (required, repeatable)")
	fs.StringVar(&mf.subject, "subject", "", "Subject `text`")
	fs.StringVar(&mf.text, "text", "", "text/plain content")
	fs.StringVar(&mf.file, "file", "", "content `file`, sent as is")
	fs.StringVar(&mf.mediaType, "type", "", "media type of --file, e.g. image/png")
}

// messageFlagNames are the names register defines.
var messageFlagNames = []string{"from", "from-name", "to", "subject", "text", "file", "type"}

// given reports whether fs's arguments set any of the message flags.
func (mf *messageFlags) given(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || slices.Contains(messageFlagNames, f.Name) })
	return set
}

// message checks the flags fs parsed and builds the message they
// describe, with DateTime now.  On a bad flag or an unreadable --file it
// prints why and returns nil and the exit status.
func (mf *messageFlags) message(fs *flag.FlagSet, stdin io.Reader, stderr io.Writer) (*cpim.Message, int) {
	cmd := fs.Name()
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case mf.from == "":
		return nil, usageError(stderr, cmd, "--from is required")
	case len(mf.to) == 0:
		return nil, usageError(stderr, cmd, "at least one --to is required")
	case set["text"] == set["file"]:
		return nil, usageError(stderr, cmd, "exactly one of --text and --file is required")
	case set["file"] != set["type"]:
		return nil, usageError(stderr, cmd, "--type goes with --file, and --file needs it")
	}
	if _, err := cpim.ParseURI(mf.from); err != nil {
		return nil, usageError(stderr, cmd, "--from %q: %v", mf.from, err)
	}
	m := &cpim.Message{
		From:     cpim.Address{Name: mf.fromName, URI: mf.from},
		DateTime: time.Now().UTC().Truncate(time.Second),
	}
	for _, u := range mf.to {
		if _, err := cpim.ParseURI(u); err != nil {
			return nil, usageError(stderr, cmd, "--to %q: %v", u, err)
		}
		m.To = append(m.To, cpim.Address{URI: u})
	}
	if mf.subject != "" {
		m.Subject = []cpim.Subject{{Value: mf.subject}}
	}
	for _, s := range []struct{ flag, value string }{{"from-name", mf.fromName}, {"subject", mf.subject}, {"text", mf.text}} {
		if !utf8.ValidString(s.value) {
			return nil, usageError(stderr, cmd, "--%s is not valid UTF-8", s.flag)
		}
	}
	contentType, body := "text/plain; charset=utf-8", []byte(mf.text)
	if set["file"] {
		if _, _, err := mime.ParseMediaType(mf.mediaType); err != nil || !strings.Contains(mf.mediaType, "/") {
			return nil, usageError(stderr, cmd, "--type %q is not a media type", mf.mediaType)
		}
		b, err := readInput(mf.file, stdin)
		if err != nil {
			fmt.Fprintf(stderr, "cpimtool: %v\n", err)
			return nil, exitFail
		}
		contentType, body = mf.mediaType, b
	}
	m.Content.Header = []cpim.Field{{Name: "Content-Type", Value: contentType}}
	m.Content.Body = body
	return m, exitOK
}
