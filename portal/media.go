package portal

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

// Media is a file carried in a CPIM message (docs/extensions.md §5): inline in Data, or as a link
// in URL.
type Media struct {
	Data []byte
	// URL is where a linked file is fetched (message/external-body with access-type URL,
	// RFC 2017), "" for a file carried inline.
	URL string
	// Size is a linked file's size in bytes as its sender states it (the size parameter of
	// RFC 2046 §5.2.3), 0 if unknown.
	Size     int
	MimeType string // a valid media type without parameters, e.g. "image/png"
	Filename string // the Content-Disposition filename, "" if none was given
	Caption  string // text sent with the file, "" if none
}

// base64Line is the longest line of base64 (RFC 2045 §6.8).
const base64Line = 76

// maxMixedParts bounds the parts read from an inbound multipart/mixed.
const maxMixedParts = 4

// urlWord is the longest piece of a URL parameter between spaces (RFC 2017 §3.1).
const urlWord = 40

// IsMedia reports whether a Matrix message type carries a file.
func IsMedia(t event.MessageType) bool {
	switch t {
	case event.MsgImage, event.MsgVideo, event.MsgAudio, event.MsgFile:
		return true
	}
	return false
}

// OutgoingMedia describes the file of a Matrix media message whose bytes are data. The filename is
// the message's filename, or its body for clients that send none; the body is the caption when it
// differs from the filename (MSC2530). A mimetype that is missing or invalid is sniffed from data,
// and is application/octet-stream if there is none. A file to go out as a link gets its URL and
// Size set afterwards, and its Data dropped.
func OutgoingMedia(content *event.MessageEventContent, data []byte) *Media {
	md := &Media{Data: data, Filename: content.FileName}
	if md.Filename == "" {
		md.Filename = content.Body
	} else if content.Body != content.FileName {
		md.Caption = content.Body
	}
	if content.Info != nil {
		if mt, _, err := mime.ParseMediaType(content.Info.MimeType); err == nil && strings.Contains(mt, "/") {
			md.MimeType = mt
		}
	}
	if md.MimeType == "" {
		md.MimeType = "application/octet-stream"
		if len(data) > 0 {
			md.MimeType, _, _ = mime.ParseMediaType(http.DetectContentType(data))
		}
	}
	return md
}

// Content returns the CPIM content that carries md: the file inline in base64, or, if md has a URL,
// a link to it (Media.link), alone or, if there is a caption, after a text/plain part in a
// multipart/mixed (RFC 2046 §5.1.3). The file's Content-Disposition filename follows RFC 2183, a
// non-ASCII name in RFC 2231 form.
func (md *Media) Content() cpim.Content {
	var file cpim.Content
	if md.URL != "" {
		file = md.link()
	} else {
		file = md.inline()
	}
	if md.Caption == "" {
		return file
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	// Writes to a bytes.Buffer do not fail.
	part, _ := w.CreatePart(map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}})
	_, _ = io.WriteString(part, md.Caption)
	hdr := map[string][]string{}
	for _, f := range file.Header {
		hdr[f.Name] = []string{f.Value}
	}
	part, _ = w.CreatePart(hdr)
	_, _ = part.Write(file.Body)
	_ = w.Close()
	return cpim.Content{
		Header: []cpim.Field{{Name: "Content-Type", Value: mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": w.Boundary()})}},
		Body:   body.Bytes(),
	}
}

// inline is the file entity of md with its bytes in base64.
func (md *Media) inline() cpim.Content {
	h := []cpim.Field{
		{Name: "Content-Type", Value: md.MimeType},
		{Name: "Content-Transfer-Encoding", Value: "base64"},
	}
	return cpim.Content{Header: md.withDisposition(h), Body: encodeBase64(md.Data)}
}

// link is the message/external-body entity (RFC 2046 §5.2.3) that points at md.URL with
// access-type URL (RFC 2017), and the file's size in the size parameter when it is known. The URL
// parameter is quoted and split into words of at most 40 characters, one per folded line, after
// the characters RFC 2017 §3.1 forbids in it are percent-encoded. The encapsulated header gives the
// file's type, the Content-ID RFC 2046 requires (derived from the URL, so that a resent message is
// the same) and its filename; the phantom body is empty.
func (md *Media) link() cpim.Content {
	u := quoteURL(md.URL)
	var t strings.Builder
	t.WriteString("message/external-body; access-type=URL")
	if md.Size > 0 {
		t.WriteString("; size=" + strconv.Itoa(md.Size))
	}
	t.WriteString(";\r\n URL=\"")
	for i := 0; i < len(u); i += urlWord {
		if i > 0 {
			t.WriteString("\r\n ")
		}
		t.WriteString(u[i:min(i+urlWord, len(u))])
	}
	t.WriteByte('"')
	sum := sha256.Sum256([]byte(md.URL))
	host := "matrix-cpim.invalid"
	if pu, err := url.Parse(md.URL); err == nil && pu.Hostname() != "" {
		host = pu.Hostname()
		if strings.Contains(host, ":") {
			host = "[" + host + "]" // an IPv6 literal (RFC 5322 §3.6.4 no-fold-literal)
		}
	}
	inner := md.withDisposition([]cpim.Field{
		{Name: "Content-Type", Value: md.MimeType},
		{Name: "Content-ID", Value: "<" + hex.EncodeToString(sum[:12]) + "@" + host + ">"},
	})
	var body []byte
	for _, f := range inner {
		body = append(body, f.Name+": "+f.Value+"\r\n"...)
	}
	body = append(body, '\r', '\n')
	return cpim.Content{Header: []cpim.Field{{Name: "Content-Type", Value: t.String()}}, Body: body}
}

// withDisposition appends md's Content-Disposition, if it has a filename, to h.
func (md *Media) withDisposition(h []cpim.Field) []cpim.Field {
	if md.Filename == "" {
		return h
	}
	return append(h, cpim.Field{Name: "Content-Disposition", Value: mime.FormatMediaType("attachment", map[string]string{"filename": md.Filename})})
}

// quoteURL percent-encodes what RFC 2017 §3.1 forbids in a URL parameter: space, controls, double
// quotes, backslashes and 8-bit octets. The result is the same URL, written differently.
func quoteURL(u string) string {
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// MediaToCPIM returns the CPIM message that carries the file of a Matrix media message (Content).
// A reply gets its mx.In-Reply-To header; the quote fallback of text replies is left out, as a
// file has no text to put it in.
func MediaToCPIM(from, to cpim.Address, md *Media, rel Relation) *cpim.Message {
	m := cpim.NewText(from, to, "")
	m.Content = md.Content()
	if rel.InReplyTo != "" {
		m.Add(Namespace, Prefix, HeaderInReplyTo, rel.InReplyTo)
	}
	return m
}

// encodeBase64 encodes data in lines of at most 76 characters ending in CRLF (RFC 2045 §6.8).
func encodeBase64(data []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	out := make([]byte, 0, len(enc)+2*(len(enc)/base64Line+1))
	for len(enc) > base64Line {
		out = append(out, enc[:base64Line]...)
		out = append(out, '\r', '\n')
		enc = enc[base64Line:]
	}
	out = append(out, enc...)
	return append(out, '\r', '\n')
}

// isFileType reports whether an inbound media type is carried as a Matrix file.
func isFileType(mt string) bool {
	major, _, _ := strings.Cut(mt, "/")
	switch major {
	case "image", "video", "audio", "application":
		return true
	}
	return false
}

// incomingMedia reads a file from inbound content: a file entity or a link to one, or a
// multipart/mixed of an optional text/plain caption and one of those. It returns nil, nil for
// content that is not a file.
func incomingMedia(c *cpim.Content) (*Media, error) {
	switch mt := c.Type(); {
	case isFileType(mt):
		return fileEntity(mt, c.Get("Content-Transfer-Encoding"), c.Get("Content-Disposition"), c.Body)
	case mt == externalBody:
		return linkEntity(c.Get("Content-Type"), c.Body)
	case mt == "multipart/mixed":
		return mixed(c.TypeParams()["boundary"], c.Body)
	}
	return nil, nil
}

// fileEntity decodes one file entity (RFC 2045 §6: base64, quoted-printable or unencoded).
func fileEntity(mt, encoding, disposition string, body []byte) (*Media, error) {
	md := &Media{MimeType: mt}
	if _, params, err := mime.ParseMediaType(disposition); err == nil {
		md.Filename = params["filename"]
	}
	var err error
	switch strings.ToLower(encoding) {
	case "", "7bit", "8bit", "binary":
		md.Data = body
	case "base64":
		// The decoder skips the line breaks; other characters outside the alphabet are errors.
		md.Data, err = base64.StdEncoding.DecodeString(string(body))
		if err != nil {
			return nil, fmt.Errorf("%s content: bad base64: %w", mt, err)
		}
	case "quoted-printable":
		md.Data, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
		if err != nil {
			return nil, fmt.Errorf("%s content: bad quoted-printable: %w", mt, err)
		}
	default:
		return nil, fmt.Errorf("%w: %s content in Content-Transfer-Encoding %s", ErrUnsupported, mt, encoding)
	}
	return md, nil
}

// externalBody is the media type of a file that is referenced rather than included (RFC 2046
// §5.2.3).
const externalBody = "message/external-body"

// linkEntity reads a message/external-body entity, whose Content-Type field is ctype, with
// access-type URL (RFC 2017): the URL with its
// whitespace removed (RFC 2017 §3.1), which must be absolute http or https; the size parameter if
// it is a number; and from the encapsulated header the file's type (text/plain if none is given,
// RFC 2045 §5.2) and Content-Disposition filename. The phantom body is ignored, and so are a missing
// Content-ID and a header not ended by a blank line. The file is fetched by the bridge, which decides which URLs it follows.
func linkEntity(ctype string, body []byte) (*Media, error) {
	_, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return nil, fmt.Errorf("%s: Content-Type parameters: %w (the URL parameter must be quoted, RFC 2017 §3.1)", externalBody, err)
	}
	if at := params["access-type"]; !strings.EqualFold(at, "URL") {
		return nil, fmt.Errorf("%w: %s with access-type %q (only URL, RFC 2017)", ErrUnsupported, externalBody, at)
	}
	raw := strings.Join(strings.Fields(params["url"]), "")
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("%s: URL parameter %q is not an absolute URL", externalBody, raw)
	}
	if s := strings.ToLower(u.Scheme); s != "https" && s != "http" {
		return nil, fmt.Errorf("%w: %s with a %s: URL (only https and http)", ErrUnsupported, externalBody, s)
	}
	h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(body))).ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: encapsulated header: %w", externalBody, err)
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain"
	}
	if major, _, _ := strings.Cut(mt, "/"); !isFileType(mt) && major != "text" {
		return nil, fmt.Errorf("%w: %s of type %s", ErrUnsupported, externalBody, mt)
	}
	md := &Media{URL: raw, MimeType: mt}
	if n, err := strconv.Atoi(params["size"]); err == nil && n > 0 {
		md.Size = n
	}
	if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil {
		md.Filename = dp["filename"]
	}
	return md, nil
}

// mixed reads a multipart/mixed of at most one text/plain caption and exactly one file.
func mixed(boundary string, body []byte) (*Media, error) {
	if boundary == "" {
		return nil, errors.New("multipart/mixed without boundary")
	}
	var md *Media
	var caption string
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	for i := 0; ; i++ {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("multipart/mixed part %d: %w", i+1, err)
		}
		if i == maxMixedParts {
			return nil, fmt.Errorf("%w: multipart/mixed with more than %d parts", ErrUnsupported, maxMixedParts)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, fmt.Errorf("multipart/mixed part %d: %w", i+1, err)
		}
		mt, params, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			mt, params = "text/plain", nil // RFC 2045 §5.2
		}
		switch {
		case mt == "text/plain" && caption == "":
			if enc := strings.ToLower(p.Header.Get("Content-Transfer-Encoding")); enc != "" && enc != "7bit" && enc != "8bit" && enc != "binary" {
				return nil, fmt.Errorf("%w: multipart/mixed text part in Content-Transfer-Encoding %s", ErrUnsupported, enc)
			}
			if caption, err = decodeText(params, b); err != nil {
				return nil, fmt.Errorf("multipart/mixed part %d: %w", i+1, err)
			}
		case isFileType(mt) && md == nil:
			if md, err = fileEntity(mt, p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), b); err != nil {
				return nil, fmt.Errorf("multipart/mixed part %d: %w", i+1, err)
			}
		case mt == externalBody && md == nil:
			if md, err = linkEntity(p.Header.Get("Content-Type"), b); err != nil {
				return nil, fmt.Errorf("multipart/mixed part %d: %w", i+1, err)
			}
		default:
			return nil, fmt.Errorf("%w: multipart/mixed part %d of type %s (one text/plain caption and one file are accepted)", ErrUnsupported, i+1, mt)
		}
	}
	if md == nil {
		return nil, fmt.Errorf("%w: multipart/mixed without a file part", ErrUnsupported)
	}
	md.Caption = caption
	return md, nil
}

// MatrixContent returns the Matrix content of an inbound file whose bytes are in Data, without its
// URL, which the bridge sets once it has uploaded Data. The body is the caption if there is one, else the filename; a
// file without a name is named after its type.
func (md *Media) MatrixContent() *event.MessageEventContent {
	c := &event.MessageEventContent{
		MsgType:  event.MsgFile,
		FileName: md.Filename,
		Info:     &event.FileInfo{MimeType: md.MimeType, Size: len(md.Data)},
	}
	switch major, _, _ := strings.Cut(md.MimeType, "/"); major {
	case "image":
		c.MsgType = event.MsgImage
	case "video":
		c.MsgType = event.MsgVideo
	case "audio":
		c.MsgType = event.MsgAudio
	}
	if c.FileName == "" {
		c.FileName = strings.TrimPrefix(string(c.MsgType), "m.")
		if exts, _ := mime.ExtensionsByType(md.MimeType); len(exts) > 0 {
			c.FileName += exts[0]
		}
	}
	c.Body = c.FileName
	if md.Caption != "" {
		c.Body = md.Caption
	}
	return c
}

// withMedia fills in the file of an inbound message and reports whether it had one. A file cannot
// replace the content of an earlier message.
func (in *Incoming) withMedia(c *cpim.Content) (bool, error) {
	md, err := incomingMedia(c)
	if err != nil || md == nil {
		return false, err
	}
	if in.Kind == KindEdit {
		return false, fmt.Errorf("%w: an edit that carries a file", ErrUnsupported)
	}
	in.Media, in.Content = md, md.MatrixContent()
	return true, nil
}
