package portal

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxHTMLDepth is the nesting depth the Matrix spec lets clients cut HTML at (client-server API,
// "m.room.message msgtypes", HTML): deeper elements are kept as text only.
const maxHTMLDepth = 100

// allowedTags lists the tags of the Matrix spec's HTML allow-list with the attributes each may
// keep; href and src are checked further in allowedAttr.
var allowedTags = map[atom.Atom][]string{
	atom.Font: {"color", "data-mx-bg-color", "data-mx-color"},
	atom.Del:  nil, atom.H1: nil, atom.H2: nil, atom.H3: nil, atom.H4: nil, atom.H5: nil, atom.H6: nil,
	atom.Blockquote: nil, atom.P: nil, atom.A: {"href", "target"}, atom.Ul: nil, atom.Ol: {"start"},
	atom.Sup: nil, atom.Sub: nil, atom.Li: nil, atom.B: nil, atom.I: nil, atom.U: nil, atom.Strong: nil,
	atom.Em: nil, atom.S: nil, atom.Code: {"class"}, atom.Hr: nil, atom.Br: nil, atom.Div: nil,
	atom.Table: nil, atom.Thead: nil, atom.Tbody: nil, atom.Tr: nil, atom.Th: nil, atom.Td: nil,
	atom.Caption: nil, atom.Pre: nil, atom.Span: {"data-mx-bg-color", "data-mx-color", "data-mx-spoiler"},
	atom.Img: {"width", "height", "alt", "title", "src"}, atom.Details: nil, atom.Summary: nil,
}

// droppedTags are removed with their content: it is code, metadata or form state, not text.
var droppedTags = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Head: true, atom.Title: true, atom.Iframe: true,
	atom.Object: true, atom.Embed: true, atom.Template: true, atom.Noscript: true, atom.Textarea: true,
	atom.Select: true, atom.Svg: true, atom.Math: true,
}

// linkSchemes are the URL schemes the Matrix spec allows in <a href>.
var linkSchemes = []string{"https:", "http:", "ftp:", "mailto:", "magnet:", "matrix:"}

// SanitizeHTML reduces HTML from a gateway to what Matrix clients are asked to render (the allow-list
// of the client-server API's m.room.message HTML section): other elements are replaced by their
// content, script-like elements dropped with it, attributes filtered, links limited to the spec's
// schemes, images to mxc: URLs (a client must not fetch other URLs), and the mx-reply element, which
// only a Matrix sender may write, removed. The result is well-formed.
func SanitizeHTML(s string) string {
	nodes, err := html.ParseFragment(strings.NewReader(s), &html.Node{Type: html.ElementNode, DataAtom: atom.Body, Data: "body"})
	if err != nil {
		// The parser only fails on reader errors, which a strings.Reader never returns.
		return html.EscapeString(s)
	}
	var b strings.Builder
	for _, n := range nodes {
		writeSanitized(&b, n, 0)
	}
	return b.String()
}

func writeSanitized(b *strings.Builder, n *html.Node, depth int) {
	switch n.Type {
	case html.TextNode:
		b.WriteString(html.EscapeString(n.Data))
		return
	case html.ElementNode:
	default:
		return // comments, doctypes
	}
	attrs, allowed := allowedTags[n.DataAtom]
	if droppedTags[n.DataAtom] || n.Data == "mx-reply" {
		return
	}
	allowed = allowed && depth < maxHTMLDepth && !(n.DataAtom == atom.Img && srcOf(n) == "")
	if allowed {
		b.WriteByte('<')
		b.WriteString(n.Data)
		for _, a := range n.Attr {
			if a.Namespace == "" && allowedAttr(n.DataAtom, attrs, a) {
				b.WriteByte(' ')
				b.WriteString(a.Key)
				b.WriteString(`="`)
				b.WriteString(html.EscapeString(a.Val))
				b.WriteByte('"')
			}
		}
		b.WriteByte('>')
		if n.DataAtom == atom.Br || n.DataAtom == atom.Hr || n.DataAtom == atom.Img {
			return
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		writeSanitized(b, c, depth+1)
	}
	if allowed {
		b.WriteString("</")
		b.WriteString(n.Data)
		b.WriteByte('>')
	}
}

func allowedAttr(tag atom.Atom, names []string, a html.Attribute) bool {
	found := false
	for _, name := range names {
		found = found || a.Key == name
	}
	switch {
	case !found:
		return false
	case a.Key == "href":
		v := strings.ToLower(strings.TrimSpace(a.Val))
		for _, s := range linkSchemes {
			if strings.HasPrefix(v, s) {
				return true
			}
		}
		return false
	case a.Key == "src":
		return strings.HasPrefix(a.Val, "mxc://")
	case a.Key == "class":
		return tag == atom.Code && strings.HasPrefix(a.Val, "language-") && !strings.ContainsAny(a.Val, " \t\n")
	case a.Key == "target":
		return a.Val == "_blank"
	}
	return true
}

// srcOf returns the src of an img if it is one Matrix allows.
func srcOf(n *html.Node) string {
	for _, a := range n.Attr {
		if a.Key == "src" && strings.HasPrefix(a.Val, "mxc://") {
			return a.Val
		}
	}
	return ""
}
