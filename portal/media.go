package portal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"strings"

	"maunium.net/go/mautrix/event"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

// Media is a file carried inline in a CPIM message (docs/extensions.md §5).
type Media struct {
	Data     []byte
	MimeType string // a valid media type without parameters, e.g. "image/png"
	Filename string // the Content-Disposition filename, "" if none was given
	Caption  string // text sent with the file, "" if none
}

// base64Line is the longest line of base64 (RFC 2045 §6.8).
const base64Line = 76

// maxMixedParts bounds the parts read from an inbound multipart/mixed.
const maxMixedParts = 4

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
// differs from the filename (MSC2530). A mimetype that is missing or invalid is sniffed from data.
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
		md.MimeType, _, _ = mime.ParseMediaType(http.DetectContentType(data))
	}
	return md
}

// Content returns the CPIM content that carries md inline: the file in base64 with its
// Content-Disposition filename (RFC 2183; a non-ASCII name in RFC 2231 form), alone or, if there is
// a caption, after a text/plain part in a multipart/mixed (RFC 2046 §5.1.3).
func (md *Media) Content() cpim.Content {
	file := []cpim.Field{
		{Name: "Content-Type", Value: md.MimeType},
		{Name: "Content-Transfer-Encoding", Value: "base64"},
	}
	if md.Filename != "" {
		file = append(file, cpim.Field{Name: "Content-Disposition", Value: mime.FormatMediaType("attachment", map[string]string{"filename": md.Filename})})
	}
	if md.Caption == "" {
		return cpim.Content{Header: file, Body: encodeBase64(md.Data)}
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	// Writes to a bytes.Buffer do not fail.
	part, _ := w.CreatePart(map[string][]string{"Content-Type": {"text/plain; charset=utf-8"}})
	_, _ = io.WriteString(part, md.Caption)
	hdr := map[string][]string{}
	for _, f := range file {
		hdr[f.Name] = []string{f.Value}
	}
	part, _ = w.CreatePart(hdr)
	_, _ = part.Write(encodeBase64(md.Data))
	_ = w.Close()
	return cpim.Content{
		Header: []cpim.Field{{Name: "Content-Type", Value: mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": w.Boundary()})}},
		Body:   body.Bytes(),
	}
}

// MediaToCPIM returns the CPIM message that carries a Matrix media message with the file's bytes
// inline. A reply gets its mx.In-Reply-To header; the quote fallback of text replies is left out,
// as a file has no text to put it in.
func MediaToCPIM(from, to cpim.Address, content *event.MessageEventContent, data []byte, rel Relation) *cpim.Message {
	m := cpim.NewText(from, to, "")
	m.Content = OutgoingMedia(content, data).Content()
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

// incomingMedia reads a file from inbound content: a file entity, or a multipart/mixed of an
// optional text/plain caption and one file entity. It returns nil, nil for content that is not a
// file.
func incomingMedia(c *cpim.Content) (*Media, error) {
	switch mt := c.Type(); {
	case isFileType(mt):
		return fileEntity(mt, c.Get("Content-Transfer-Encoding"), c.Get("Content-Disposition"), c.Body)
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

// MatrixContent returns the Matrix content of an inbound file, without its URL, which the bridge
// sets once it has uploaded Data. The body is the caption if there is one, else the filename; a
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
