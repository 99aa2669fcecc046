package bridge

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2/bridgeconfig"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/gateway"
	"github.com/matrix-cpim/matrix-cpim/portal"
)

// linkMessage is a gateway's message that links to a file at u, with the size it states.
func linkMessage(u string, size int) *cpim.Message {
	m := cpim.NewText(cpim.Address{URI: "im:bob@example.net"}, cpim.Address{URI: "im:alice@im.example.org"}, "")
	md := &portal.Media{URL: u, Size: size, MimeType: "application/pdf", Filename: "slides.pdf", Caption: "the slides"}
	m.Content = md.Content()
	return m
}

func TestCheckMediaFetchesLinks(t *testing.T) {
	file := bytes.Repeat([]byte("%PDF"), 300)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(file) }))
	defer srv.Close()
	c := &Connector{Config: Config{Media: MediaConfig{MaxSize: len(file), Fetch: FetchConfig{Timeout: 10 * time.Second, AllowHTTP: true, AllowPrivate: []string{"127.0.0.1"}}}}}
	c.fetcher = newFetcher(c.Config.Media)

	m := linkMessage(srv.URL+"/slides", len(file))
	in, err := portal.FromCPIM(m)
	if err != nil {
		t.Fatal(err)
	}
	if err = c.checkMedia(t.Context(), m, in); err != nil {
		t.Fatal(err)
	}
	if in.Content.Info.Size != len(file) || in.Content.MsgType != event.MsgFile || in.Content.FileName != "slides.pdf" || in.Content.Body != "the slides" {
		t.Errorf("content after the fetch = %+v", in.Content)
	}
	// What Accept stores carries the file inline: delivery needs no second fetch.
	stored, err := cpim.Parse(m.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	again, err := portal.FromCPIM(stored)
	if err != nil {
		t.Fatal(err)
	}
	if md := again.Media; md == nil || md.URL != "" || !bytes.Equal(md.Data, file) || md.MimeType != "application/pdf" || md.Caption != "the slides" {
		t.Errorf("stored message carries %+v, want the file inline", md)
	}
}

func TestCheckMediaRefusals(t *testing.T) {
	var fetched atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fetched.Store(true) }))
	defer srv.Close()
	c := &Connector{Config: Config{Media: MediaConfig{MaxSize: 1000, Fetch: FetchConfig{Timeout: 10 * time.Second, AllowHTTP: true}}}}
	c.fetcher = newFetcher(c.Config.Media)
	for _, tc := range []struct {
		name   string
		m      *cpim.Message
		status int
	}{
		{"stated size over max_size", linkMessage(srv.URL+"/x", 1001), http.StatusRequestEntityTooLarge},
		{"loopback link", linkMessage(srv.URL+"/x", 10), http.StatusBadRequest},
	} {
		in, err := portal.FromCPIM(tc.m)
		if err != nil {
			t.Fatal(err)
		}
		before := string(tc.m.Bytes())
		var r *gateway.Refusal
		if err = c.checkMedia(t.Context(), tc.m, in); !errors.As(err, &r) || r.Status != tc.status {
			t.Errorf("%s: checkMedia = %v, want %d", tc.name, err, tc.status)
		}
		if string(tc.m.Bytes()) != before {
			t.Errorf("%s: a refused message was rewritten", tc.name)
		}
	}
	if fetched.Load() {
		t.Error("a refused link reached the server")
	}
}

func TestLinkTo(t *testing.T) {
	mc := &matrix.Connector{Config: &bridgeconfig.Config{Homeserver: bridgeconfig.HomeserverConfig{Address: "http://synapse:8008", PublicAddress: "https://matrix.example.org/"}}}
	content := &event.MessageEventContent{MsgType: event.MsgFile, Body: "see", FileName: "a b.pdf", URL: id.ContentURIString("mxc://example.org/AbC123")}
	for _, tc := range []struct {
		large   string
		content *event.MessageEventContent
		want    string
		err     bool
	}{
		{LargeHomeserver, content, "https://matrix.example.org/_matrix/media/v3/download/example.org/AbC123/a%20b.pdf", false},
		{LargeHomeserver, &event.MessageEventContent{MsgType: event.MsgFile, Body: "x.bin", File: &event.EncryptedFileInfo{URL: "mxc://example.org/Enc"}}, "", true},
		{LargeHomeserver, &event.MessageEventContent{MsgType: event.MsgFile, Body: "x.bin", URL: "https://not.mxc/x"}, "", true},
		{LargeRefuse, content, "", true},
	} {
		c := &Connector{Config: Config{Media: MediaConfig{Large: tc.large}}, matrix: mc}
		got, err := c.linkTo(t.Context(), tc.content)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%s %+v: linkTo = %q, %v; want %q (error: %v)", tc.large, tc.content, got, err, tc.want, tc.err)
		}
	}
}
