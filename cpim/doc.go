// Package cpim reads and writes Message/CPIM objects (RFC 3862, the
// Common Presence and Instant Messaging message format) and parses the
// im: and pres: URIs that address them (RFC 3860 App. A, RFC 3859).
//
// A Message/CPIM object is a block of message headers with stricter rules
// than MIME (one line each, CRLF, exactly one SP after the colon,
// case-sensitive names, namespaces declared with NS, §2.2–§3), a blank
// line, then an encapsulated MIME entity (§2.4). Transports carry it in
// two ways, hence two entry points: SIP MESSAGE, MSRP and HTTP bodies
// start at the message headers (Parse), a multipart part or a stored
// entity starts with "Content-Type: message/cpim" and a blank line
// (ParseMIME). The end of the content is the end of the input: framing is
// the transport's (§2).
//
// # Strict and lenient parsing
//
// The zero Parser is strict: it enforces every MUST of RFC 3862 and its
// grammar, including the sender rules an input can be checked against
// (only the escapes of §2.3.1, no whitespace at the end of a line, the
// Formal-name forms of §4.1), and requires the content to have a
// Content-Type (§2.4). It also rejects a repeated From or DateTime, which
// RFC 3862 leaves to the application but MSRP (RFC 4975 §13) and IMDN
// (RFC 5438) forbid.
//
// A Parser with Lenient set accepts what deployed peers send and the RFC
// 5438 and RFC 4975 figures show:
//
//   - LF instead of CRLF in the header sections (never changed in the body);
//   - no blank line between the message headers and the content headers:
//     a header named Content-* starts the content;
//   - a whole entity given to Parse, or a bare body given to ParseMIME;
//   - case variants of the RFC 3862 §4 header names (from, CC, datetime);
//   - whitespace: none or several spaces or tabs around the colon and the
//     value, spaces in Require lists, parameters before the colon;
//   - Formal-names with a space after the closing quote, without a space
//     before "<", or with separators unquoted; bare URIs without "<>";
//   - an undeclared namespace prefix (the header keeps NS "");
//   - any escape sequence, a repeated From or DateTime (the first counts),
//     a missing content Content-Type.
//
// Both modes reject what cannot be read safely: control characters and
// invalid UTF-8 in message headers, folded message headers, bare CR.
// Lenient parsing rewrites what it repaired into strict form in Headers
// (canonical names, spacing, escapes, Formal-names), so that the output of
// AppendTo is strict, CRLF-terminated RFC 3862, except for what cannot be
// repaired without dropping or inventing data: a repeated From or
// DateTime, an undeclared prefix, a missing content Content-Type. Both modes
// bound line length, header count and body size (Parser fields);
// exceeding a bound returns an error wrapping ErrTooLarge.
//
// # Preservation
//
// RFC 3862 §2.2 and §6 require relays to keep every octet and the order of
// headers. A parsed Message keeps each header raw in Headers and the body
// octets exactly; serializing an unmodified strictly parsed message
// reproduces its input. The typed fields (From, To, ...) are decoded views
// kept consistent with Headers as described at Message.
package cpim
