package bridge

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// recordingTransport answers every request with 200 and keeps the path and body it was sent.
type recordingTransport struct{ path, body string }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	r.path, r.body = req.URL.EscapedPath(), string(body)
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
}

func TestSendTxnIDs(t *testing.T) {
	const (
		sendPath = "/_matrix/client/v3/rooms/!r:hs/send/m.room.message/mautrix-go_123_1"
		bob      = "@cpim_bob=40example.net:hs"
		carol    = "@cpim_carol=40example.org:hs"
	)
	withKey := func(key string) string {
		return `{"msgtype":"m.text","body":"hi","` + inboundKeyField + `":"` + key + `"}`
	}
	send := func(t *testing.T, method, path, user, body string) *recordingTransport {
		t.Helper()
		req, err := http.NewRequest(method, "http://hs"+path+"?user_id="+user, bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		rec := &recordingTransport{}
		resp, err := (sendTxnIDs{rec}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if rec.body != body {
			t.Errorf("body reached the homeserver as %q, want %q", rec.body, body)
		}
		if req.URL.EscapedPath() != path {
			t.Errorf("the caller's request was changed to %s", req.URL.EscapedPath())
		}
		return rec
	}

	first := send(t, http.MethodPut, sendPath, bob, withKey("k1")).path
	if !strings.HasPrefix(first, "/_matrix/client/v3/rooms/!r:hs/send/m.room.message/cpim-in-") {
		t.Fatalf("send with an inbound key went to %s, want its transaction ID replaced", first)
	}
	other := strings.Replace(sendPath, "mautrix-go_123_1", "mautrix-go_456_2", 1)
	if again := send(t, http.MethodPut, other, bob, withKey("k1")).path; again != first {
		t.Errorf("the same message sent again went to %s, want %s", again, first)
	}
	slashRoom := "/_matrix/client/v3/rooms/!a%2Fb:hs/send/m.room.message/mautrix-go_123_1"
	if got := send(t, http.MethodPut, slashRoom, bob, withKey("k1")).path; !strings.HasPrefix(got, "/_matrix/client/v3/rooms/!a%2Fb:hs/send/m.room.message/cpim-in-") {
		t.Errorf("send to a room whose ID has a slash went to %s", got)
	}
	for name, path := range map[string]string{
		"another key":   send(t, http.MethodPut, sendPath, bob, withKey("k2")).path,
		"another ghost": send(t, http.MethodPut, sendPath, carol, withKey("k1")).path,
	} {
		if path == first {
			t.Errorf("%s was given the same transaction ID", name)
		}
	}

	for name, tc := range map[string]struct{ method, path, body string }{
		"no key":            {http.MethodPut, sendPath, `{"msgtype":"m.text","body":"hi"}`},
		"key in a value":    {http.MethodPut, sendPath, `{"msgtype":"m.text","body":"\"` + inboundKeyField + `\": \"k1\""}`},
		"empty key":         {http.MethodPut, sendPath, withKey("")},
		"not a send":        {http.MethodPut, "/_matrix/client/v3/rooms/!r:hs/state/m.room.name/", withKey("k1")},
		"send in a room ID": {http.MethodPut, "/_matrix/client/v3/rooms/!a%2Fsend%2Fb:hs/state/m.room.name/", withKey("k1")},
		"not a PUT":         {http.MethodPost, sendPath, withKey("k1")},
	} {
		if got := send(t, tc.method, tc.path, bob, tc.body).path; got != tc.path {
			t.Errorf("%s: request went to %s, want it unchanged", name, got)
		}
	}
}
