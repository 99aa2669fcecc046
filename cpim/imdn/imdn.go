// Package imdn implements Instant Message Disposition Notifications
// (RFC 5438) on top of Message/CPIM: the urn:ietf:params:imdn headers an
// IM Sender uses to ask for notifications, the message/imdn+xml body of a
// notification, and helpers that read and build such messages with
// package cpim.
package imdn

import (
	"errors"
	"fmt"
	"strings"
)

// Namespace is the CPIM header namespace of RFC 5438 §6.1.  Headers must
// be looked up through it, never through the conventional "imdn" prefix,
// since senders may bind any prefix (RFC 5438 §6.1).
const Namespace = "urn:ietf:params:imdn"

// Prefix is the name prefix this package declares for [Namespace] when it
// adds headers, the one used throughout RFC 5438.
const Prefix = "imdn"

// Header names in [Namespace] (RFC 5438 §6.2–§6.6, §10).  Like all CPIM
// header names they are case-sensitive.
const (
	HeaderMessageID               = "Message-ID"
	HeaderDispositionNotification = "Disposition-Notification"
	HeaderOriginalTo              = "Original-To"
	HeaderRecordRoute             = "IMDN-Record-Route"
	HeaderRoute                   = "IMDN-Route"
)

// Disposition is one notify-req of a Disposition-Notification header
// (RFC 5438 §7.1.1.3): a kind of notification the IM Sender asks for.
// Values other than the four constants are extensions; a recipient
// ignores the ones it does not know (RFC 5438 §7.2.1).
type Disposition string

// The dispositions defined by RFC 5438 §7.1.1.3.
const (
	PositiveDelivery Disposition = "positive-delivery" // delivery succeeded
	NegativeDelivery Disposition = "negative-delivery" // delivery failed
	Processing       Disposition = "processing"        // handled by an intermediary
	Display          Disposition = "display"           // rendered to the user
)

// Known reports whether d is one of the dispositions defined by RFC 5438.
func (d Disposition) Known() bool {
	switch d {
	case PositiveDelivery, NegativeDelivery, Processing, Display:
		return true
	}
	return false
}

// ParseDispositionNotification parses the value of a
// Disposition-Notification header (RFC 5438 §10):
//
//	[notify-req *(COMMA notify-req)]
//	notify-req = Token *(SEMI Ext-param)
//	COMMA = *SP "," *SP;  SEMI = *SP ";" *SP
//
// An empty value asks for nothing (RFC 5438 §7.1.1.3) and yields nil.
// Spaces around the whole value are tolerated.  Unknown notify-reqs are
// kept so that the caller can see them; a repeated one is kept once.  RFC
// 5438 defines no parameters, so parameters are checked for syntax and
// dropped.
func ParseDispositionNotification(v string) ([]Disposition, error) {
	s := scanner{s: strings.Trim(v, " ")}
	var ds []Disposition
	for !s.done() {
		if len(ds) > 0 && !s.separator(',') {
			return nil, s.errorf("expected %q", ',')
		}
		tok := s.token()
		if tok == "" {
			return nil, s.errorf("expected a notify-req token")
		}
		for s.separator(';') {
			if err := s.param(); err != nil {
				return nil, err
			}
		}
		d := Disposition(tok)
		if !contains(ds, d) {
			ds = append(ds, d)
		}
	}
	return ds, nil
}

func contains(ds []Disposition, d Disposition) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

// FormatDispositionNotification formats ds as a Disposition-Notification
// value, separated by ", " as in RFC 5438 §7.1.1.3.  Every disposition must
// be a CPIM Token.
func FormatDispositionNotification(ds []Disposition) (string, error) {
	var b strings.Builder
	for i, d := range ds {
		if !isToken(string(d)) {
			return "", fmt.Errorf("imdn: disposition %q is not a CPIM token", d)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(d))
	}
	return b.String(), nil
}

// scanner walks a Disposition-Notification value.
type scanner struct {
	s   string
	pos int
}

func (s *scanner) done() bool { return s.pos >= len(s.s) }

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("imdn: Disposition-Notification %q: offset %d: %s", s.s, s.pos, fmt.Sprintf(format, args...))
}

func (s *scanner) skipSP() {
	for s.pos < len(s.s) && s.s[s.pos] == ' ' {
		s.pos++
	}
}

// separator consumes *SP sep *SP and reports whether sep was there.
func (s *scanner) separator(sep byte) bool {
	start := s.pos
	s.skipSP()
	if s.pos < len(s.s) && s.s[s.pos] == sep {
		s.pos++
		s.skipSP()
		return true
	}
	s.pos = start
	return false
}

// token consumes the longest run of TOKENCHARs, "" if there is none.
func (s *scanner) token() string {
	start := s.pos
	s.pos += tokenPrefixLen(s.s[s.pos:])
	return s.s[start:s.pos]
}

// param consumes Ext-param = Param-name "=" (Token / Number / String)
// (RFC 3862 §3.2); Number is a subset of Token.
func (s *scanner) param() error {
	name := s.token()
	if name == "" || strings.ContainsFunc(name, func(r rune) bool { return r == '.' || r >= 0x80 }) {
		return s.errorf("expected a parameter name")
	}
	if s.done() || s.s[s.pos] != '=' {
		return s.errorf("expected %q after parameter %s", '=', name)
	}
	s.pos++
	if s.pos < len(s.s) && s.s[s.pos] == '"' {
		return s.quoted()
	}
	if s.token() == "" {
		return s.errorf("expected a value for parameter %s", name)
	}
	return nil
}

// quoted consumes a String (RFC 3862 §3.6), escapes included.
func (s *scanner) quoted() error {
	s.pos++ // opening quote
	for s.pos < len(s.s) {
		switch c := s.s[s.pos]; {
		case c == '"':
			s.pos++
			return nil
		case c == '\\':
			s.pos += 2
		case c < 0x20 || c == 0x7f:
			return s.errorf("control character in quoted string")
		default:
			s.pos++
		}
	}
	return errors.New("imdn: Disposition-Notification: unterminated quoted string")
}
