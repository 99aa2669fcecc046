package portal

import (
	"strings"
	"testing"
)

func TestSanitizeHTML(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"allowed kept", `<b>bold</b> <i>it</i> <code class="language-go">x</code>`, `<b>bold</b> <i>it</i> <code class="language-go">x</code>`},
		{"unknown tag unwrapped", `<marquee>hi <b>there</b></marquee>`, `hi <b>there</b>`},
		{"script dropped with content", `a<script>alert(1)</script>b<style>p{}</style>c`, `abc`},
		{"event handler attribute dropped", `<p onclick="x()" style="color:red">p</p>`, `<p>p</p>`},
		{"javascript link dropped", `<a href="javascript:alert(1)">x</a>`, `<a>x</a>`},
		{"https link kept", `<a href="https://example.net/?a=1&amp;b=2" target="_blank">x</a>`, `<a href="https://example.net/?a=1&amp;b=2" target="_blank">x</a>`},
		{"http image unwrapped", `<img src="https://tracker.example/p.png" alt="x">`, ``},
		{"mxc image kept", `<img src="mxc://hs/abc" alt="cat">`, `<img src="mxc://hs/abc" alt="cat">`},
		{"mx-reply dropped", `<mx-reply><blockquote>old</blockquote></mx-reply>new`, `new`},
		{"unclosed tags closed", `<b>bold <i>both`, `<b>bold <i>both</i></b>`},
		{"text escaped", `1 &lt; 2 & 3 > 2`, `1 &lt; 2 &amp; 3 &gt; 2`},
		{"comment dropped", `a<!-- secret -->b`, `ab`},
		{"font colour kept", `<font color="#ff0000" size="7">red</font>`, `<font color="#ff0000">red</font>`},
		{"spoiler kept", `<span data-mx-spoiler="why">s</span>`, `<span data-mx-spoiler="why">s</span>`},
		{"class on other tags dropped", `<code class="x y">c</code><p class="language-go">p</p>`, `<code>c</code><p>p</p>`},
	} {
		if got := SanitizeHTML(tc.in); got != tc.want {
			t.Errorf("%s: SanitizeHTML(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestSanitizeHTMLDepth(t *testing.T) {
	in := ""
	for range maxHTMLDepth + 10 {
		in += "<b>"
	}
	in += "deep"
	got := SanitizeHTML(in)
	if opened := strings.Count(got, "<b>"); opened != maxHTMLDepth || !strings.Contains(got, "deep") {
		t.Errorf("%d levels kept (want %d) in %q", opened, maxHTMLDepth, got)
	}
}
