package cpim

import (
	"errors"
	"io"
	"time"
)

// HeaderNamespace is the namespace of the headers defined by RFC 3862 §4
// (From, To, cc, DateTime, Subject, NS, Require) and the initial default
// namespace of every message (RFC 3862 §3.4, §7.1).
const HeaderNamespace = "urn:ietf:params:cpim-headers:"

// Address is the value of a From, To or cc header (RFC 3862 §4.1–§4.3):
// an optional Formal-name and a URI.
type Address struct {
	Name string // Formal-name, unescaped; "" if none
	URI  string // the URI between < and >
}

// Subject is one Subject header (RFC 3862 §4.5).
type Subject struct {
	Lang  string // Language-tag of ;lang=, "" if none (RFC 3862 §3.3)
	Value string // unescaped text
}

// Namespace is one NS header (RFC 3862 §4.6).
type Namespace struct {
	Prefix string // "" declares the default namespace
	URI    string
}

// Param is a header parameter (RFC 3862 §3.2), or an hname=hvalue pair of
// an im: URI (RFC 3860 App. A.2).
type Param struct {
	Name, Value string
}

// Header is one message header line as on the wire.
type Header struct {
	Prefix string  // Name-prefix before ".", "" if none
	Name   string  // local name
	NS     string  // resolved namespace URI, "" if the prefix is undeclared (lenient only)
	Params []Param // parameters between ":" and SP, values raw
	Value  string  // Header-value, raw (escapes not decoded)
}

// Field is one MIME header field of the encapsulated content.
type Field struct {
	Name, Value string
}

// Content is the encapsulated MIME entity (RFC 3862 §2.4).
type Content struct {
	Header []Field
	Body   []byte
}

// Message is a Message/CPIM object (RFC 3862).
type Message struct {
	From     Address
	To, Cc   []Address
	DateTime time.Time
	Subject  []Subject
	NS       []Namespace
	Require  []string
	Headers  []Header
	Content  Content
}

// Parser parses Message/CPIM objects.
type Parser struct {
	Lenient    bool
	MaxLineLen int
	MaxHeaders int
	MaxBody    int
}

// SyntaxError reports malformed input and the line where it was found.
type SyntaxError struct {
	Line int
	Msg  string
	Err  error
}

func (e *SyntaxError) Error() string { return "" }
func (e *SyntaxError) Unwrap() error { return e.Err }

// RequireError lists required headers or features that are not understood.
type RequireError struct {
	Headers []string
}

func (e *RequireError) Error() string { return "" }

// ErrTooLarge is wrapped by every error caused by a size limit.
var ErrTooLarge = errors.New("cpim: message too large")

// URI is a parsed im:/pres: URI (RFC 3860 App. A) or another absolute URI.
type URI struct {
	Scheme  string
	User    string
	Domain  string
	Headers []Param
	Opaque  string
}

func (a Address) String() string                                            { return "" }
func ParseAddress(s string) (Address, error)                                { return Address{}, nil }
func Escape(s string) string                                                { return s }
func Unescape(s string) string                                              { return s }
func (c *Content) Get(name string) string                                   { return "" }
func (c *Content) Set(name, value string)                                   {}
func (c *Content) Type() string                                             { return "" }
func (c *Content) TypeParams() map[string]string                            { return nil }
func (m *Message) Add(ns, prefix, name, value string)                       {}
func (m *Message) Set(ns, prefix, name, value string)                       {}
func (m *Message) Get(ns, name string) (string, bool)                       { return "", false }
func (m *Message) Values(ns, name string) []string                          { return nil }
func (m *Message) SyncHeaders()                                             {}
func (m *Message) Validate() error                                          { return nil }
func (m *Message) AppendTo(b []byte) []byte                                 { return b }
func (m *Message) Bytes() []byte                                            { return nil }
func (m *Message) WriteMIME(w io.Writer) error                              { return nil }
func (m *Message) CheckRequire(understood func(ns, name string) bool) error { return nil }
func NewText(from Address, to Address, text string) *Message                { return nil }
func (p *Parser) Parse(b []byte) (*Message, error)                          { return nil, nil }
func (p *Parser) ParseMIME(b []byte) (*Message, error)                      { return nil, nil }
func Parse(b []byte) (*Message, error)                                      { return nil, nil }
func ParseMIME(b []byte) (*Message, error)                                  { return nil, nil }
func ParseURI(s string) (*URI, error)                                       { return nil, nil }
func (u *URI) String() string                                               { return "" }
func (u *URI) Address() string                                              { return "" }
