package harness

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// maxGatewayBody bounds what the gateway reads of one request.
const maxGatewayBody = 1 << 20

// Gateway is the far end of outbound messages: an HTTP server on loopback that answers every POST
// with 200 and reports the sequence number found in its body to the current Tracker.
type Gateway struct {
	URL string

	srv      *http.Server
	tracker  atomic.Pointer[Tracker]
	requests atomic.Int64
}

// StartGateway listens on 127.0.0.1 until Close.
func StartGateway() (*Gateway, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &Gateway{URL: "http://" + ln.Addr().String()}
	g.srv = &http.Server{Handler: http.HandlerFunc(g.serve)}
	go func() { _ = g.srv.Serve(ln) }()
	return g, nil
}

// Track sends arrivals to t from now on; nil drops them.
func (g *Gateway) Track(t *Tracker) { g.tracker.Store(t) }

// Requests is how many requests the gateway answered.
func (g *Gateway) Requests() int64 { return g.requests.Load() }

// Close stops the server.
func (g *Gateway) Close() error { return g.srv.Close() }

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxGatewayBody))
	now := time.Now()
	g.requests.Add(1)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if t := g.tracker.Load(); t != nil {
		if seq, ok := FindSeq(body); ok {
			t.Arrived(seq, now)
		} else {
			t.Arrived(-1, now)
		}
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}
