package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// testGateway is the far end of the HTTP binding: it records what the bridge POSTs and answers with
// a status the test chooses.
type testGateway struct {
	srv      *httptest.Server
	received chan *http.Request // with Body replaced by the bytes read
	status   atomic.Int32
	errBody  atomic.Value // string, sent with error statuses
}

func newTestGateway(t *testing.T) *testGateway {
	g := &testGateway{received: make(chan *http.Request, 100)}
	g.status.Store(http.StatusOK)
	g.errBody.Store("")
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			// The bridge's health check probes gateways with OPTIONS.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		g.received <- r
		status := int(g.status.Load())
		if status >= 300 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, g.errBody.Load().(string))
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// next returns the next request the bridge made, failing the test if none comes.
func (g *testGateway) next(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	select {
	case r := <-g.received:
		body, _ := io.ReadAll(r.Body)
		return r, body
	case <-time.After(waitTimeout):
		t.Fatalf("the gateway received nothing within %s", waitTimeout)
		return nil, nil
	}
}

// post sends a request to the bridge's inbound endpoint as a gateway would.
func post(t *testing.T, url, token, contentType, idemKey string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// get fetches a URL and returns the body.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return string(data)
}
