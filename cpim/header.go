package cpim

import (
	"strings"
	"unicode/utf8"
)

// Kinds of message headers: the headers RFC 3862 §4 defines, in the order
// a serializer writes them, and extension headers.
const (
	kExt = iota
	kFrom
	kTo
	kCc
	kDateTime
	kSubject
	kNS
	kRequire
	nKinds
)

var coreNames = [nKinds]string{
	kFrom: "From", kTo: "To", kCc: "cc", kDateTime: "DateTime",
	kSubject: "Subject", kNS: "NS", kRequire: "Require",
}

// coreKind returns the kind of the header with expanded name (ns, name).
// Names are case-sensitive (RFC 3862 §2.2): "Cc" is not "cc".
func coreKind(ns, name string) int {
	if ns != HeaderNamespace {
		return kExt
	}
	switch name {
	case "From":
		return kFrom
	case "To":
		return kTo
	case "cc":
		return kCc
	case "DateTime":
		return kDateTime
	case "Subject":
		return kSubject
	case "NS":
		return kNS
	case "Require":
		return kRequire
	}
	return kExt
}

// coreNameFold returns the RFC 3862 §4 header name that name matches
// case-insensitively, or "".
func coreNameFold(name string) string {
	for k := kFrom; k < nKinds; k++ {
		if strings.EqualFold(name, coreNames[k]) {
			return coreNames[k]
		}
	}
	return ""
}

// lookupPrefix returns the namespace bound to prefix by the latest of the
// declarations decls (RFC 3862 §3.4: a declaration applies to the headers
// after it). The empty prefix is the default namespace, initially
// HeaderNamespace.
func lookupPrefix(decls []Namespace, prefix string) (string, bool) {
	for i := len(decls) - 1; i >= 0; i-- {
		if decls[i].Prefix == prefix {
			return decls[i].URI, true
		}
	}
	if prefix == "" {
		return HeaderNamespace, true
	}
	return "", false
}

// splitHeaderName splits a Header-name = [ Name-prefix "." ] Name
// (RFC 3862 §3.6).
func splitHeaderName(s string) (prefix, name string, ok bool) {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		prefix, s = s[:i], s[i+1:]
		if !validName(prefix) {
			return "", "", false
		}
	}
	return prefix, s, validName(s)
}

// parseHeaderLine splits a message header line (RFC 3862 §3):
//
//	Header = Header-name ":" *( ";" Parameter ) SP Header-value CRLF
//
// Strictly there is exactly one SP after the colon and parameters, no
// whitespace at the end (§2.2), no control character, only UTF-8 and only
// the escapes §2.3.1 allows. Leniently whitespace around the colon and
// the value is skipped and parameters may precede the colon.
func parseHeaderLine(h *Header, line string, lenient bool, blk *msgBlock) (msg string) {
	if line[0] == ' ' || line[0] == '\t' {
		return "message header line starts with whitespace (RFC 3862 §2.2 forbids folding)"
	}
	i := 0
	for i < len(line) && isNameChar(line[i]) {
		i++
	}
	if i == 0 {
		if isCTL(line[0]) {
			return ctlProblem(line[0], "header name")
		}
		return "invalid character " + quoteByte(line[0]) + " at start of header name"
	}
	h.Name = line[:i]
	if i < len(line) && line[i] == '.' {
		h.Prefix = h.Name
		j := i + 1
		for j < len(line) && isNameChar(line[j]) {
			j++
		}
		if j == i+1 {
			return "empty header name after namespace prefix"
		}
		h.Name, i = line[i+1:j], j
	}
	if lenient {
		i = skipWS(line, i)
		if i < len(line) && line[i] == ';' {
			if h.Params, i, msg = parseParams(line, i, true, blk); msg != "" {
				return msg
			}
			i = skipWS(line, i)
		}
	}
	if i == len(line) || line[i] != ':' {
		switch {
		case i == len(line):
			return "header line has no colon"
		case line[i] == '.':
			return "header name has more than one \".\" (RFC 3862 §3.1)"
		}
		if isCTL(line[i]) {
			return ctlProblem(line[i], "header name")
		}
		return "invalid character " + quoteByte(line[i]) + " in header name"
	}
	i++
	if i < len(line) && line[i] == ';' {
		var ps []Param
		if ps, i, msg = parseParams(line, i, lenient, blk); msg != "" {
			return msg
		}
		if h.Params == nil {
			h.Params = ps
		} else {
			h.Params = append(h.Params[:len(h.Params):len(h.Params)], ps...)
		}
	}
	v := line[i:]
	if lenient {
		v = trimWS(v)
	} else {
		switch {
		case v == "":
			return "no SP after the colon (RFC 3862 §3)"
		case v[0] != ' ':
			return "want exactly one SP after the colon (RFC 3862 §3)"
		}
		v = v[1:]
		if v != "" && (v[0] == ' ' || v[0] == '\t') {
			return "more than one SP after the colon (RFC 3862 §3)"
		}
		if n := len(v); n > 0 && (v[n-1] == ' ' || v[n-1] == '\t') {
			return "whitespace at end of line (RFC 3862 §2.2)"
		}
	}
	if msg = valueProblem(v, lenient); msg != "" {
		return msg
	}
	if lenient && checkEscapes(v) != "" {
		// An escaped space at either end has no conformant form: it goes.
		v = trimWS(canonEscapes(v))
	}
	h.Value = v
	return ""
}

// valueProblem checks the rules every header value follows (RFC 3862
// §2.2, §3.2): no control characters, UTF-8, and strictly only the
// escapes of §2.3.1.
func valueProblem(v string, lenient bool) string {
	var seen byte // or of the octets that need a closer look
	for i := 0; i < len(v); i++ {
		c := v[i]
		if isCTL(c) {
			return ctlProblem(c, "header value (RFC 3862 §2.2 requires an escape)")
		}
		seen |= special[c]
	}
	if seen&spNonASCII != 0 && !utf8.ValidString(v) {
		return "header value is not valid UTF-8 (RFC 3862 §3)"
	}
	if seen&spBackslash != 0 && !lenient {
		return checkEscapes(v)
	}
	return ""
}

const (
	spNonASCII = 1 << iota
	spBackslash
)

var special = func() (t [256]byte) {
	for c := 0x80; c < 0x100; c++ {
		t[c] = spNonASCII
	}
	t['\\'] = spBackslash
	return
}()

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// parseParams parses *( ";" Param-name "=" Param-value ) at line[i:]
// (RFC 3862 §3.2, §3.6). Values are kept raw: a String keeps its quotes
// and escapes.
func parseParams(line string, i int, lenient bool, blk *msgBlock) ([]Param, int, string) {
	var ps []Param
	if blk.np < len(blk.params) {
		ps = blk.params[blk.np:blk.np:len(blk.params)]
	}
	for i < len(line) && line[i] == ';' {
		i++
		j := i
		for j < len(line) && isNameChar(line[j]) {
			j++
		}
		if j == i {
			return nil, i, "malformed parameter name"
		}
		if j == len(line) || line[j] != '=' {
			return nil, i, "parameter " + line[i:j] + " has no \"=\""
		}
		p := Param{Name: line[i:j]}
		i = j + 1
		if i < len(line) && line[i] == '"' {
			end, msg := stringEnd(line[i:], lenient)
			if msg != "" {
				return nil, i, msg
			}
			p.Value = line[i : i+end+1]
			i += len(p.Value)
			if lenient && checkEscapes(p.Value) != "" {
				p.Value = canonEscapes(p.Value)
			}
		} else {
			j = i
			for j < len(line) && isTokenChar(line[j]) {
				j++
			}
			if j == i {
				return nil, i, "parameter " + p.Name + " has an empty value"
			}
			p.Value = line[i:j]
			i = j
		}
		if !utf8.ValidString(p.Value) {
			return nil, i, "parameter value is not valid UTF-8"
		}
		ps = append(ps, p)
	}
	if len(ps) == 0 {
		return nil, i, ""
	}
	if blk.np < len(blk.params) && &ps[0] == &blk.params[blk.np] {
		blk.np += len(ps)
	}
	return ps[:len(ps):len(ps)], i, ""
}

// validLangTag reports whether s is an RFC 3066 Language-tag
// (RFC 3862 §3.3): 1*8ALPHA *( "-" 1*8( ALPHA / DIGIT ) ).
func validLangTag(s string) bool {
	for n := 0; ; n++ {
		part, rest, more := strings.Cut(s, "-")
		if len(part) < 1 || len(part) > 8 {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			alpha := 'a' <= c|0x20 && c|0x20 <= 'z'
			if !alpha && !(n > 0 && '0' <= c && c <= '9') {
				return false
			}
		}
		if !more {
			return true
		}
		s = rest
	}
}

// parseNS parses an NS value (RFC 3862 §4.6): [ Name-prefix ] "<" URI ">".
// The grammar has no SP before "<" but every example has one; both are
// accepted. The URI must be absolute without fragment (§3.4).
func parseNS(v string, lenient bool) (Namespace, string) {
	if lenient {
		v = trimWS(v)
	}
	i := 0
	for i < len(v) && isNameChar(v[i]) {
		i++
	}
	ns := Namespace{Prefix: v[:i]}
	if lenient {
		i = skipWS(v, i)
	} else if i < len(v) && v[i] == ' ' && i > 0 {
		i++
	}
	rest := v[i:]
	if lenient {
		rest = trimWS(rest)
	}
	if len(rest) < 2 || rest[0] != '<' || rest[len(rest)-1] != '>' {
		return ns, "NS value is not [prefix] <URI>"
	}
	ns.URI = rest[1 : len(rest)-1]
	if lenient {
		ns.URI = trimWS(ns.URI)
	}
	if msg := checkURI(ns.URI, lenient); msg != "" {
		return ns, "namespace " + msg + " (RFC 3862 §3.4)"
	}
	if lenient {
		ns.URI = repairURI(ns.URI)
	}
	return ns, ""
}

// requireNames calls f for each Header-name of a Require value
// (RFC 3862 §4.7: Header-name *( "," Header-name )). Leniently whitespace
// around names and empty list elements are allowed. canonical reports
// whether v is already in the strict form.
func requireNames(v string, lenient bool, f func(name string)) (canonical bool, msg string) {
	canonical = true
	for {
		part, rest, more := strings.Cut(v, ",")
		if t := trimWS(part); t != part {
			if !lenient {
				return false, "whitespace in Require list (RFC 3862 §4.7)"
			}
			canonical, part = false, t
		}
		switch {
		case part != "":
			if _, _, ok := splitHeaderName(part); !ok {
				return false, "invalid header name " + quote(part) + " in Require"
			}
			f(part)
		case !lenient:
			return false, "empty name in Require list"
		default:
			canonical = false
		}
		if !more {
			return canonical, ""
		}
		v = rest
	}
}

func quote(s string) string {
	return "\"" + string(appendEscaped(nil, s, '"')) + "\""
}
