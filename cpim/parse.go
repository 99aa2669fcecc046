package cpim

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strconv"
	"strings"
)

// Parser parses Message/CPIM objects. The zero value is a strict parser
// with default limits.
//
// Strict parsing enforces every MUST of RFC 3862 and its grammar. Lenient
// parsing also accepts what deployed peers and the RFC 5438 / RFC 4975
// figures send (see the package documentation), repairs it, and stores
// the repaired form, so that serializing a leniently parsed message yields
// conformant output.
type Parser struct {
	// Lenient accepts the deviations listed in the package documentation.
	Lenient bool

	// Limits; 0 selects the default, a negative value disables the limit.
	// Exceeding one is an error wrapping ErrTooLarge.
	MaxLineLen int // octets per header line, without CRLF; default 8 KiB
	MaxHeaders int // lines per header section; default 100
	MaxBody    int // octets of the encapsulated body; default 1 MiB
}

const (
	defaultMaxLineLen = 8 << 10
	defaultMaxHeaders = 100
	defaultMaxBody    = 1 << 20
)

func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return int(^uint(0) >> 1)
	}
	return v
}

// Parse parses a Message/CPIM body as carried by SIP MESSAGE, MSRP or HTTP
// with Content-Type message/cpim: the input starts at the message headers
// (RFC 3862 §2, the part after the MIME headers of the object). The end of
// the input is the end of the content (§2: framing is the transport's).
func (p *Parser) Parse(b []byte) (*Message, error) {
	return p.parse(b, modeBody)
}

// ParseMIME parses a complete MIME entity of type message/cpim as in the
// RFC 3862 §5 examples or a multipart body part: MIME headers including
// Content-Type: message/cpim, a blank line, then the message. A base64 or
// quoted-printable Content-Transfer-Encoding of the whole object (§9) is
// decoded first; line numbers of errors then count in the decoded object.
func (p *Parser) ParseMIME(b []byte) (*Message, error) {
	return p.parse(b, modeMIME)
}

// Entry points of parse.
const (
	modeBody    = iota // input starts at the message headers
	modeMIME           // input starts at the MIME headers of the entity
	modeDecoded        // transfer-decoded content of an entity: message headers, no more guessing
)

// Parse parses b strictly with default limits; see Parser.Parse.
func Parse(b []byte) (*Message, error) {
	var p Parser
	return p.Parse(b)
}

// ParseMIME parses b strictly with default limits; see Parser.ParseMIME.
func ParseMIME(b []byte) (*Message, error) {
	var p Parser
	return p.ParseMIME(b)
}

// msgBlock holds a Message and small backing arrays for its slices, so
// that a typical message costs two allocations for its structure (this and
// Headers), 512 octets plus the headers: parse time is dominated by
// allocated bytes. Slices taken from it have their capacity capped, so
// appends never overwrite a neighbour.
type msgBlock struct {
	m      Message
	to     [1]Address
	subj   [2]Subject
	ns     [1]Namespace
	req    [1]string
	params [1]Param
	fields [2]Field
	np     int // params used
}

// The backing arrays of a block, or nil for a nil block.
func (b *msgBlock) toArr() []Address {
	if b == nil {
		return nil
	}
	return b.to[:]
}

func (b *msgBlock) subjArr() []Subject {
	if b == nil {
		return nil
	}
	return b.subj[:]
}

func (b *msgBlock) nsArr() []Namespace {
	if b == nil {
		return nil
	}
	return b.ns[:]
}

func (b *msgBlock) reqArr() []string {
	if b == nil {
		return nil
	}
	return b.req[:]
}

// push appends v to s, taking s's first backing array from arr.
func push[T any](s, arr []T, v T) []T {
	if s == nil {
		s = arr[:0:len(arr)]
	}
	return append(s, v)
}

// scanner reads the header sections of one input.
type scanner struct {
	s       string // the header sections (a prefix of the input)
	pos     int
	line    int // number of the line last returned
	lenient bool
	maxLine int
	maxHdrs int

	hdrLines int // lines of the message header section, as counted before parsing
}

func (sc *scanner) errorf(line int, msg string) error {
	return &SyntaxError{Line: line, Msg: msg}
}

func (sc *scanner) tooLarge(line int, msg string) error {
	return &SyntaxError{Line: line, Msg: msg, Err: ErrTooLarge}
}

// next returns the next line without its terminator. ok is false at the
// end of the input. Strictly every line ends in CRLF (RFC 3862 §2.2);
// leniently a bare LF or a missing terminator on the last line is
// accepted. A CR elsewhere is always an error.
func (sc *scanner) next() (line string, ok bool, err error) {
	if sc.pos >= len(sc.s) {
		return "", false, nil
	}
	sc.line++
	rest := sc.s[sc.pos:]
	i := strings.IndexByte(rest, '\n')
	if i < 0 {
		if !sc.lenient {
			return "", false, sc.errorf(sc.line, "line not terminated by CRLF")
		}
		i = len(rest)
		sc.pos = len(sc.s)
	} else {
		sc.pos += i + 1
	}
	line = rest[:i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	} else if !sc.lenient && i < len(rest) {
		return "", false, sc.errorf(sc.line, "line terminated by LF without CR (RFC 3862 §2.2 requires CRLF)")
	}
	if len(line) > sc.maxLine {
		return "", false, sc.tooLarge(sc.line, "line longer than "+strconv.Itoa(sc.maxLine)+" octets")
	}
	// A CR inside the line is a control character: the header checks
	// reject it (ctlProblem).
	return line, true, nil
}

// unread steps back over the line just returned by next.
func (sc *scanner) unread(start int) {
	sc.pos = start
	sc.line--
}

// fields reads a MIME header section up to and including its blank line,
// appending to dst. Folding is allowed here (RFC 3862 §2.4, RFC 5322
// §2.2.3); a folded value keeps its line breaks, as CRLF. sawBlank is false
// if the input ended without a blank line.
func (sc *scanner) fields(dst []Field) (fs []Field, sawBlank bool, err error) {
	fs = dst
	vStart := -1 // offset of the last value in sc.s while it is a substring of it
	for n := 0; ; n++ {
		start := sc.pos
		line, ok, err := sc.next()
		if err != nil || !ok {
			return fs, false, err
		}
		if line == "" {
			return fs, true, nil
		}
		if n == sc.maxHdrs {
			return nil, false, sc.tooLarge(sc.line, "more than "+strconv.Itoa(sc.maxHdrs)+" header lines")
		}
		if msg := fieldValueProblem(line); msg != "" {
			return nil, false, sc.errorf(sc.line, msg)
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fs) == 0 {
				return nil, false, sc.errorf(sc.line, "continuation line without a header field")
			}
			f := &fs[len(fs)-1]
			if vStart >= 0 && sc.s[start-2] == '\r' {
				f.Value = sc.s[vStart : start+len(line)]
			} else {
				f.Value += "\r\n" + line
				vStart = -1
			}
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon < 0 {
			return nil, false, sc.errorf(sc.line, "header line without colon")
		}
		name := line[:colon]
		if sc.lenient {
			name = trimWS(name)
		}
		if !mimeFieldName(name) {
			return nil, false, sc.errorf(sc.line, "invalid MIME header field name "+strconv.Quote(name))
		}
		vStart = start + colon + 1
		if vStart < start+len(line) && sc.s[vStart] == ' ' {
			vStart++
		}
		fs = append(fs, Field{Name: name, Value: sc.s[vStart : start+len(line)]})
	}
}

// mimeFieldName reports whether s is an RFC 5322 field-name: printable
// US-ASCII except ":".
func mimeFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == ':' {
			return false
		}
	}
	return s != ""
}

// fieldValueProblem rejects control characters other than HTAB in a MIME
// header line (RFC 5322 §3.2.5).
func fieldValueProblem(line string) string {
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return ctlProblem(c, "MIME header")
		}
	}
	return ""
}

// ctlProblem describes a control character found in a header line.
func ctlProblem(c byte, where string) string {
	if c == '\r' {
		return "CR not followed by LF"
	}
	return "control character " + quoteByte(c) + " in " + where
}

// afterBlankLines returns the offset just past the n-th empty line of b
// (a line holding nothing or a lone CR), or len(b): only that prefix of
// the input needs to become a string, the body stays bytes. It also counts
// the lines of section sec (the lines before the first empty line are
// section 0), to size Headers exactly.
func afterBlankLines(b []byte, n, sec int) (end, lines int) {
	for pos := 0; pos < len(b); {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			if sec == 0 {
				lines++
			}
			break
		}
		if i == 0 || i == 1 && b[pos] == '\r' {
			if n--; n == 0 {
				return pos + i + 1, lines
			}
			sec--
		} else if sec == 0 {
			lines++
		}
		pos += i + 1
	}
	return len(b), lines
}

// firstFieldName returns the text before the first colon of the first line.
func firstFieldName(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if i := bytes.IndexByte(b, ':'); i >= 0 && i <= 64 {
		return bytes.Trim(b[:i], " \t")
	}
	return nil
}

func (p *Parser) parse(b []byte, mode int) (*Message, error) {
	isMIME := mode == modeMIME
	first := firstFieldName(b)
	switch {
	case mode == modeBody && bytes.EqualFold(first, []byte("Content-Type")):
		// A message body never starts with a MIME header; this is a whole
		// entity (RFC 5438 §8.1 figure) handed to the wrong entry point.
		if !p.Lenient {
			return nil, &SyntaxError{Line: 1, Msg: "input starts with a MIME Content-Type header; use ParseMIME for a whole message/cpim entity"}
		}
		isMIME = true
	case isMIME && p.Lenient && coreNameFold(string(first)) != "":
		// No MIME headers at all: the input starts at the message headers.
		isMIME = false
	}
	blanks := 2
	if isMIME {
		blanks = 3
	}
	end, hdrLines := afterBlankLines(b, blanks, blanks-2)
	sc := &scanner{
		s:        string(b[:end]),
		lenient:  p.Lenient,
		maxLine:  limit(p.MaxLineLen, defaultMaxLineLen),
		maxHdrs:  limit(p.MaxHeaders, defaultMaxHeaders),
		hdrLines: hdrLines,
	}
	if isMIME {
		cte, err := sc.outer()
		if err != nil {
			return nil, err
		}
		switch cte {
		case "", "7bit", "8bit", "binary":
		default:
			decoded, msg := decodeTransfer(cte, b[sc.pos:])
			if msg != "" {
				return nil, sc.errorf(sc.line+1, msg)
			}
			return p.parse(decoded, modeDecoded)
		}
	}
	blk := new(msgBlock)
	m := &blk.m
	if err := sc.headers(blk); err != nil {
		return nil, err
	}
	contentLine := sc.line + 1
	fs, sawBlank, err := sc.fields(blk.fields[:0:len(blk.fields)])
	if err != nil {
		if se, ok := err.(*SyntaxError); ok && se.Err == nil && hasContentHeader(m.Headers) {
			se.Msg += " (in the content headers: is the blank line after the message headers missing?)"
		}
		return nil, err
	}
	if len(fs) > 0 {
		m.Content.Header = fs
	}
	if !p.Lenient && m.Content.Get("Content-Type") == "" {
		return nil, sc.errorf(contentLine, "encapsulated content has no Content-Type (RFC 3862 §2.4)")
	}
	if sawBlank {
		body := b[sc.pos:]
		if max := limit(p.MaxBody, defaultMaxBody); len(body) > max {
			return nil, sc.tooLarge(sc.line+1, "body longer than "+strconv.Itoa(max)+" octets")
		}
		m.Content.Body = bytes.Clone(body)
	}
	return m, nil
}

// outer reads the MIME headers of a whole message/cpim entity and
// returns its Content-Transfer-Encoding, lower case ("" if none).
func (sc *scanner) outer() (string, error) {
	var arr [4]Field
	fs, sawBlank, err := sc.fields(arr[:0])
	if err != nil {
		return "", err
	}
	if !sawBlank {
		return "", sc.errorf(sc.line, "MIME headers not followed by a blank line")
	}
	c := Content{Header: fs}
	switch t := c.Type(); t {
	case "message/cpim":
	case "":
		return "", sc.errorf(1, "entity has no valid Content-Type")
	default:
		return "", sc.errorf(1, "entity is "+strconv.Quote(t)+", not message/cpim")
	}
	return strings.ToLower(c.Get("Content-Transfer-Encoding")), nil
}

// decodeTransfer undoes the transfer encoding of a whole Message/CPIM
// object (RFC 3862 §9). The result is never longer than b.
func decodeTransfer(cte string, b []byte) ([]byte, string) {
	switch cte {
	case "base64":
		clean := make([]byte, 0, len(b))
		for _, c := range b {
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				clean = append(clean, c)
			}
		}
		out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, clean)
		if err != nil {
			return nil, "invalid base64 content: " + err.Error()
		}
		return out[:n], ""
	case "quoted-printable":
		out, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(b)))
		if err != nil {
			return nil, "invalid quoted-printable content: " + err.Error()
		}
		return out, ""
	}
	return nil, "unknown Content-Transfer-Encoding " + strconv.Quote(cte)
}

// headers reads the message headers up to and including the blank line
// that ends them (RFC 3862 §2, §3).
func (sc *scanner) headers(blk *msgBlock) error {
	m := &blk.m
	m.Headers = make([]Header, 0, min(sc.hdrLines, sc.maxHdrs))
	var seen [nKinds]int
	for n := 0; ; n++ {
		start := sc.pos
		line, ok, err := sc.next()
		switch {
		case err != nil:
			return err
		case !ok:
			if sc.lenient {
				return nil
			}
			return sc.errorf(sc.line, "message headers not followed by a blank line (RFC 3862 §2)")
		case line == "":
			return nil
		case n == sc.maxHdrs:
			return sc.tooLarge(sc.line, "more than "+strconv.Itoa(sc.maxHdrs)+" message headers")
		case sc.lenient && isContentField(line):
			// Missing separator line (RFC 5438 §7.1.1.3, RFC 4975 §11.4
			// figures): the MIME headers of the content start here.
			sc.unread(start)
			return nil
		}
		// The header is parsed in place: copying an 88-octet struct of
		// pointers into the heap costs a bulk write barrier during GC.
		m.Headers = append(m.Headers, Header{})
		h := &m.Headers[len(m.Headers)-1]
		if msg := parseHeaderLine(h, line, sc.lenient, blk); msg != "" {
			return sc.errorf(sc.line, msg)
		}
		var declared bool
		if h.NS, declared = lookupPrefix(m.NS, h.Prefix); !declared && !sc.lenient {
			return sc.errorf(sc.line, "namespace prefix "+quote(h.Prefix)+" not declared by an earlier NS header (RFC 3862 §3.4)")
		}
		if sc.lenient && h.NS == HeaderNamespace && coreKind(h.NS, h.Name) == kExt {
			if c := coreNameFold(h.Name); c != "" {
				h.Name = c
			}
		}
		if k := coreKind(h.NS, h.Name); k != kExt {
			if msg := decodeCore(m, blk, h, k, seen[k], sc.lenient); msg != "" {
				return sc.errorf(sc.line, msg)
			}
			if k == kRequire && h.Value == "" {
				// Lenient: an empty Require requires nothing and has no strict form.
				*h = Header{}
				m.Headers = m.Headers[:len(m.Headers)-1]
				continue
			}
			seen[k]++
		}
	}
}

// isContentField reports whether a message header line is really a MIME
// header of the content (a Content-* name without prefix).
func isContentField(line string) bool {
	const p = "content-"
	if len(line) <= len(p) || !strings.EqualFold(line[:len(p)], p) {
		return false
	}
	name, _, _ := strings.Cut(line, ":")
	return strings.IndexByte(name, '.') < 0
}

// decodeCore decodes a header RFC 3862 §4 defines into the typed fields
// of m; nth counts the earlier headers of kind k. Leniently parsed values
// that are not in strict form are rewritten in it, so that Headers always
// holds what will be written. blk, if not nil, provides backing arrays.
func decodeCore(m *Message, blk *msgBlock, h *Header, k, nth int, lenient bool) string {
	if len(h.Params) > 0 && k != kSubject {
		if !lenient {
			return coreNames[k] + " header takes no parameters"
		}
		h.Params = nil
	}
	switch k {
	case kFrom, kTo, kCc:
		a, msg := parseAddress(h.Value, lenient)
		if msg != "" {
			return coreNames[k] + ": " + msg
		}
		if lenient {
			if b, msg := parseAddress(h.Value, false); msg != "" || b != a {
				h.Value = a.String()
			}
		}
		switch {
		case k == kTo:
			m.To = push(m.To, blk.toArr(), a)
		case k == kCc:
			m.Cc = append(m.Cc, a)
		case nth == 0:
			m.From = a
		case !lenient:
			return "repeated From header"
		}
	case kDateTime:
		t, msg := parseDateTime(h.Value, lenient)
		if msg != "" {
			return msg
		}
		if lenient {
			if _, msg := parseDateTime(h.Value, false); msg != "" {
				h.Value = string(appendDateTime(nil, t))
			}
		}
		switch {
		case nth == 0:
			m.DateTime = t
		case !lenient:
			return "repeated DateTime header"
		}
	case kSubject:
		s, ok := subjectLang(h.Params)
		if !ok {
			if !lenient {
				return "Subject takes only a lang parameter with a Language-tag (RFC 3862 §4.5)"
			}
			old := h.Params
			h.Params = nil
			for _, p := range old {
				if strings.EqualFold(p.Name, "lang") && validLangTag(p.Value) {
					s.Lang = p.Value
					h.Params = []Param{{Name: "lang", Value: p.Value}}
				}
			}
		}
		s.Value = Unescape(h.Value)
		m.Subject = push(m.Subject, blk.subjArr(), s)
	case kNS:
		ns, msg := parseNS(h.Value, lenient)
		if msg != "" {
			return msg
		}
		if lenient {
			if strict, msg := parseNS(h.Value, false); msg != "" || strict != ns {
				h.Value = string(appendNS(nil, ns))
			}
		}
		m.NS = push(m.NS, blk.nsArr(), ns)
	case kRequire:
		var undeclared string
		n := 0
		canonical, msg := requireNames(h.Value, lenient, func(name string) {
			n++
			if prefix, _, _ := splitHeaderName(name); undeclared == "" {
				if _, ok := lookupPrefix(m.NS, prefix); !ok {
					undeclared = prefix
				}
			}
			m.Require = push(m.Require, blk.reqArr(), name)
		})
		switch {
		case msg != "":
			return msg
		case undeclared != "" && !lenient:
			return "namespace prefix " + quote(undeclared) + " in Require not declared by an earlier NS header (RFC 3862 §3.4)"
		case !canonical:
			h.Value = strings.Join(m.Require[len(m.Require)-n:], ",")
		}
	}
	return ""
}

// subjectLang checks the parameters of a Subject header: none, or one
// Lang-param (RFC 3862 §4.5).
func subjectLang(ps []Param) (Subject, bool) {
	switch {
	case len(ps) == 0:
		return Subject{}, true
	case len(ps) == 1 && ps[0].Name == "lang" && validLangTag(ps[0].Value):
		return Subject{Lang: ps[0].Value}, true
	}
	return Subject{}, false
}

// hasContentHeader reports whether a MIME Content-* header was read as a
// message header, the sign of a missing separator line.
func hasContentHeader(hs []Header) bool {
	for i := range hs {
		if hs[i].Prefix == "" && len(hs[i].Name) > 8 && strings.EqualFold(hs[i].Name[:8], "content-") {
			return true
		}
	}
	return false
}
