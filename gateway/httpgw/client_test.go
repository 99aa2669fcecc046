package httpgw

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

var testOutbound = &gateway.Outbound{TransID: "tx-7", Body: []byte(okBody)}

func TestClientRequest(t *testing.T) {
	var got *http.Request
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	c := NewClient(&gateway.Config{Name: "gw", URL: srv.URL + "/in/cpim?x=1", Token: "out-token"}, nil)
	if err := c.Send(context.Background(), testOutbound); err != nil {
		t.Fatal(err)
	}
	for _, h := range []struct{ name, want string }{
		{"Content-Type", "message/cpim"},
		{"Authorization", "Bearer out-token"},
		{"Idempotency-Key", "tx-7"},
	} {
		if v := got.Header.Get(h.name); v != h.want {
			t.Errorf("%s = %q, want %q", h.name, v, h.want)
		}
	}
	if got.Method != http.MethodPost || got.URL.RequestURI() != "/in/cpim?x=1" {
		t.Errorf("request %s %s, want POST /in/cpim?x=1", got.Method, got.URL.RequestURI())
	}
	if string(body) != okBody {
		t.Errorf("body = %q, want the Outbound's octets", body)
	}
}

// answer is a canned gateway answer.
type answer struct {
	status      int
	contentType string
	retryAfter  string
	body        string
}

func (a answer) serve(w http.ResponseWriter, r *http.Request) {
	if a.contentType != "" {
		w.Header().Set("Content-Type", a.contentType)
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func TestClientClassifies(t *testing.T) {
	const jsonType = "application/json"
	long := strings.Repeat("é", 300)
	tests := []struct {
		name   string
		answer answer
		want   *gateway.SendError // nil: success
	}{
		{"200", answer{status: 200}, nil},
		{"202 with a body", answer{status: 202, contentType: jsonType, body: `{"status":"accepted"}`}, nil},
		{"204", answer{status: 204}, nil},
		{"400 JSON error", answer{status: 400, contentType: jsonType, body: `{"errcode":"CPIM_MALFORMED","error":"line 3: no colon"}`},
			&gateway.SendError{Status: 400, Reason: "line 3: no colon"}},
		{"403 JSON errcode only", answer{status: 403, contentType: jsonType, body: `{"errcode":"CPIM_FORBIDDEN_FROM"}`},
			&gateway.SendError{Status: 403, Reason: "CPIM_FORBIDDEN_FROM"}},
		{"404 plain text", answer{status: 404, contentType: "text/plain; charset=utf-8", body: "no such\r\nuser \x07 here\n"},
			&gateway.SendError{Status: 404, Reason: "no such user here"}},
		{"404 long text is cut", answer{status: 404, contentType: "text/plain", body: long},
			&gateway.SendError{Status: 404, Reason: long[:maxReasonLen] + "…"}},
		{"410 HTML page", answer{status: 410, contentType: "text/html", body: "<html><body>Gone</body></html>"},
			&gateway.SendError{Status: 410, Reason: "Gone"}},
		{"422 no body", answer{status: 422},
			&gateway.SendError{Status: 422, Reason: "Unprocessable Entity"}},
		{"307 is not followed", answer{status: 307, contentType: "text/plain"},
			&gateway.SendError{Status: 307, Reason: "Temporary Redirect"}},
		{"408", answer{status: 408},
			&gateway.SendError{Temporary: true, Status: 408, Reason: "Request Timeout"}},
		{"429 Retry-After seconds", answer{status: 429, retryAfter: "7", contentType: jsonType, body: `{"errcode":"CPIM_RATE_LIMITED","error":"slow down"}`},
			&gateway.SendError{Temporary: true, Status: 429, Reason: "slow down", RetryAfter: 7 * time.Second}},
		{"500", answer{status: 500, contentType: "text/plain", body: "boom"},
			&gateway.SendError{Temporary: true, Status: 500, Reason: "boom"}},
		{"503 bad Retry-After", answer{status: 503, retryAfter: "soon"},
			&gateway.SendError{Temporary: true, Status: 503, Reason: "Service Unavailable"}},
		{"599 unknown", answer{status: 599},
			&gateway.SendError{Temporary: true, Status: 599, Reason: "status 599"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var redirected atomic.Bool
			mux := http.NewServeMux()
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", "/elsewhere")
				tt.answer.serve(w, r)
			})
			mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { redirected.Store(true) })
			srv := httptest.NewServer(mux)
			defer srv.Close()
			err := NewClient(&gateway.Config{Name: "gw", URL: srv.URL}, nil).Send(context.Background(), testOutbound)
			if redirected.Load() {
				t.Errorf("the client followed a redirect")
			}
			if tt.want == nil {
				if err != nil {
					t.Errorf("Send = %v, want success", err)
				}
				return
			}
			se, ok := errors.AsType[*gateway.SendError](err)
			if !ok {
				t.Fatalf("Send = %v, want a *SendError", err)
			}
			if *se != *tt.want {
				t.Errorf("Send = %+v, want %+v", *se, *tt.want)
			}
			if gateway.IsTemporary(err) != tt.want.Temporary {
				t.Errorf("IsTemporary = %v, want %v", !tt.want.Temporary, tt.want.Temporary)
			}
		})
	}
}

func TestClientBoundsResponse(t *testing.T) {
	var written atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(400)
		chunk := []byte(strings.Repeat("x", 1<<10))
		for range 64 << 10 { // 64 MiB unless the client stops reading
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	err := NewClient(&gateway.Config{Name: "gw", URL: srv.URL}, nil).Send(context.Background(), testOutbound)
	se, ok := errors.AsType[*gateway.SendError](err)
	if !ok || se.Status != 400 || len(se.Reason) > maxReasonLen+len("…") {
		t.Fatalf("Send = %v, want a 400 with a short reason", err)
	}
	srv.CloseClientConnections()
	if n := written.Load(); n >= 64<<20 {
		t.Errorf("the server wrote all %d bytes; the client read them all", n)
	}
}

func TestClientNetworkErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := NewClient(&gateway.Config{Name: "gw", URL: url}, nil).Send(context.Background(), testOutbound)
	se, ok := errors.AsType[*gateway.SendError](err)
	if !ok || !se.Temporary || se.Status != 0 || !strings.Contains(se.Reason, `"gw"`) {
		t.Errorf("Send to a closed port = %#v, want a temporary SendError naming the gateway", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = NewClient(&gateway.Config{Name: "gw", URL: url}, nil).Send(ctx, testOutbound)
	if !errors.Is(err, context.Canceled) || gateway.IsTemporary(err) {
		t.Errorf("Send with a cancelled context = %v, want context.Canceled, not temporary", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"120", 2 * time.Minute},
		{" 5 ", 5 * time.Second},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{"99999999999999999999999", maxRetryWait},
		{"172800", maxRetryWait},
		{"Fri, 01 Mar 2024 12:01:30 GMT", 90 * time.Second},
		{"Friday, 01-Mar-24 12:01:30 GMT", 90 * time.Second}, // RFC 850 form
		{"Fri Mar  1 12:01:30 2024", 90 * time.Second},       // asctime form
		{"Fri, 01 Mar 2024 11:00:00 GMT", 0},                 // past
		{"Fri, 01 Mar 2030 11:00:00 GMT", maxRetryWait},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
