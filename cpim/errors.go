package cpim

import (
	"errors"
	"strconv"
	"strings"
)

// ErrTooLarge is wrapped by every error caused by a size limit of Parser
// (MaxLineLen, MaxHeaders, MaxBody), so that a transport can answer with
// its "too large" status (SIP 413, MSRP 413) using errors.Is.
var ErrTooLarge = errors.New("cpim: message too large")

// SyntaxError reports input that does not follow RFC 3862 and the line,
// counted from 1 at the start of the parsed input, where it was found.
type SyntaxError struct {
	Line int
	Msg  string
	Err  error // ErrTooLarge for size limits, else nil
}

func (e *SyntaxError) Error() string {
	return "line " + strconv.Itoa(e.Line) + ": " + e.Msg
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// RequireError is returned by Message.CheckRequire. It lists, as written
// in the Require headers, the header names and features the message
// requires the recipient to understand (RFC 3862 §3.5, §4.7) that it does
// not.
type RequireError struct {
	Headers []string
}

func (e *RequireError) Error() string {
	return "cpim: required but not understood: " + strings.Join(e.Headers, ", ")
}
