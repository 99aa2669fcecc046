package bridge

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/matrix-cpim/matrix-cpim/gateway"
)

func TestFetch(t *testing.T) {
	file := bytes.Repeat([]byte("0123456789"), 100)
	mux := http.NewServeMux()
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(file) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(append(file, 'x')) })
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		// Flushing before the end leaves out Content-Length: the limit must hold while reading.
		_, _ = w.Write(file[:10])
		w.(http.Flusher).Flush()
		_, _ = w.Write(file)
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusNotFound) })
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) })
	mux.HandleFunc("/to-file", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/file", http.StatusFound) })
	mux.HandleFunc("/to-https", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+r.Host+"/file", http.StatusFound)
	})
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	open := MediaConfig{MaxSize: len(file), Fetch: FetchConfig{Timeout: 10 * time.Second, AllowHTTP: true, AllowPrivate: []string{"127.0.0.0/8"}}}
	strict := open
	strict.Fetch = FetchConfig{Timeout: 10 * time.Second, AllowHTTP: true}
	httpsOnly := open
	httpsOnly.Fetch.AllowHTTP = false
	stalling := open
	stalling.Fetch.Timeout = 50 * time.Millisecond
	for _, tc := range []struct {
		name   string
		cfg    MediaConfig
		url    string
		status int    // 0: the file is fetched
		reason string // part of the refusal's reason
	}{
		{"allowed loopback", open, srv.URL + "/file", 0, ""},
		{"same-scheme redirect", open, srv.URL + "/to-file", 0, ""},
		{"loopback not allowed", strict, srv.URL + "/file", http.StatusBadRequest, "127.0.0.1 is not a public address"},
		{"http not allowed", httpsOnly, srv.URL + "/file", http.StatusBadRequest, "does not fetch http: links"},
		{"other scheme", open, "ftp://127.0.0.1/file", http.StatusBadRequest, "does not fetch ftp: links"},
		{"redirect to https", open, srv.URL + "/to-https", http.StatusBadRequest, "changes the scheme"},
		{"over max_size", open, srv.URL + "/big", http.StatusRequestEntityTooLarge, "over 1000 bytes"},
		{"over max_size without Content-Length", open, srv.URL + "/big-chunked", http.StatusRequestEntityTooLarge, "over 1000 bytes"},
		{"client error", open, srv.URL + "/gone", http.StatusBadRequest, "404 Not Found"},
		{"server error", open, srv.URL + "/busy", http.StatusServiceUnavailable, "503 Service Unavailable"},
		{"timeout", stalling, srv.URL + "/stall", http.StatusServiceUnavailable, "could not fetch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := newFetcher(tc.cfg).fetch(t.Context(), tc.url)
			if tc.status == 0 {
				if err != nil || !bytes.Equal(data, file) {
					t.Fatalf("fetch = %d bytes, %v; want the file", len(data), err)
				}
				return
			}
			var r *gateway.Refusal
			if !errors.As(err, &r) || r.Status != tc.status || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("fetch = %d bytes, %v; want %d with %q", len(data), err, tc.status, tc.reason)
			}
		})
	}
}

func TestIsPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14":    true,
		"2606:4700::1111":  true,
		"127.0.0.1":        false,
		"10.1.2.3":         false,
		"172.16.0.1":       false,
		"192.168.1.1":      false,
		"169.254.169.254":  false, // cloud metadata
		"100.64.0.1":       false,
		"0.0.0.0":          false,
		"0.1.2.3":          false,
		"224.0.0.1":        false,
		"255.255.255.255":  false,
		"::1":              false,
		"::":               false,
		"fe80::1":          false,
		"fd12::1":          false,
		"64:ff9b::7f00:1":  false, // NAT64 of 127.0.0.1
		"2002:7f00:1::":    false, // 6to4 of 127.0.0.1
		"::ffff:127.0.0.1": false,
	} {
		if got := isPublic(netip.MustParseAddr(addr).Unmap()); got != want {
			t.Errorf("isPublic(%s) = %v, want %v", addr, got, want)
		}
	}
}
