package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/internal/dbtest"
)

// slowClientBound is how long a client that trickles its request may hold a connection before the
// bridge must have ended it.
const slowClientBound = 60 * time.Second

// Rate limit of the security test's gateway: a burst of secBurst, then one message a second.
const secBurst = 3

// TestSecurity attacks the inbound HTTP binding as a gateway, or someone posing as one, might:
// each attack gets the answer docs/http-binding.md documents and nothing of it reaches Matrix. The
// binding is on the bridge's own gateway listener (network.listen), whose header timeout the
// appservice listener lacks.
func TestSecurity(t *testing.T) {
	start := time.Now()
	gw := newTestGateway(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	hs, _ := startWithPartner(t, dbtest.SQLite(t), gw.srv.URL, map[string]any{
		"listen":     addr,
		"rate_limit": map[string]any{"per_gateway": 1, "per_sender": 1, "burst": secBurst},
	})
	alice := hs.RegisterUser(t, "alice")
	aliceIM := "im:alice@" + hs.ServerName
	msgURL := "http://" + addr + "/_cpim/v1/message"
	fromBob := func(text string) []byte {
		return cpim.NewText(cpim.Address{URI: "im:bob@example.net"}, cpim.Address{URI: aliceIM}, text).Bytes()
	}
	t.Logf("setup took %s", time.Since(start))

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name, token, key string
			body             []byte
			status           int
			errcode          string
		}{
			{"wrong token", "not-the-token", "k1", fromBob("wrong token"), http.StatusUnauthorized, "CPIM_UNAUTHORIZED"},
			{"other gateway's outbound token", tokenOut, "k2", fromBob("outbound token"), http.StatusUnauthorized, "CPIM_UNAUTHORIZED"},
			{"token with a suffix", tokenIn + "x", "k3", fromBob("token suffix"), http.StatusUnauthorized, "CPIM_UNAUTHORIZED"},
			{"no token", "", "k4", fromBob("no token"), http.StatusUnauthorized, "CPIM_UNAUTHORIZED"},
			{"spoofed From", tokenIn, "k5", cpim.NewText(cpim.Address{URI: "im:mallory@evil.example"}, cpim.Address{URI: aliceIM}, "spoofed").Bytes(), http.StatusForbidden, "CPIM_FORBIDDEN_FROM"},
			{"spoofed From, subdomain", tokenIn, "k6", cpim.NewText(cpim.Address{URI: "im:mallory@evil.example.net"}, cpim.Address{URI: aliceIM}, "spoofed sub").Bytes(), http.StatusForbidden, "CPIM_FORBIDDEN_FROM"},
			{"foreign recipient domain", tokenIn, "k7", cpim.NewText(cpim.Address{URI: "im:bob@example.net"}, cpim.Address{URI: "im:carol@elsewhere.example"}, "relay me").Bytes(), http.StatusNotFound, "CPIM_NOT_LOCAL"},
			{"recipient in the gateway's own domain", tokenIn, "k8", cpim.NewText(cpim.Address{URI: "im:bob@example.net"}, cpim.Address{URI: "im:carol@example.net"}, "loop me").Bytes(), http.StatusNotFound, "CPIM_NOT_LOCAL"},
			{"oversized body", tokenIn, "k9", oversized(aliceIM, 1<<20+1), http.StatusRequestEntityTooLarge, "CPIM_TOO_LARGE"},
		} {
			code, hdr, resp := postRaw(t, msgURL, tc.token, tc.key, bytes.NewReader(tc.body), int64(len(tc.body)))
			checkRefusal(t, tc.name, code, resp, tc.status, tc.errcode)
			if tc.status == http.StatusUnauthorized && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s: WWW-Authenticate = %q, want a Bearer challenge", tc.name, hdr.Get("WWW-Authenticate"))
			}
		}
		// Without Content-Length the bridge finds out while reading.
		code, _, resp := postRaw(t, msgURL, tokenIn, "k10", bytes.NewReader(oversized(aliceIM, 4<<20)), -1)
		checkRefusal(t, "oversized chunked body", code, resp, http.StatusRequestEntityTooLarge, "CPIM_TOO_LARGE")

		t.Run("header flood", func(t *testing.T) {
			body := fromBob("header flood")
			for _, flood := range []struct {
				name    string
				headers string
			}{
				{"one 2 MiB header", "X-Flood: " + strings.Repeat("a", 2<<20) + "\r\n"},
				{"40000 small headers", strings.Repeat("X-Flood: aaaaaaaaaaaaaaaaaaaaaaaa\r\n", 40000)},
			} {
				status, err := rawExchange(addr, requestHead(addr, tokenIn, "flood-"+flood.name, len(body))+flood.headers+"\r\n", body, 0)
				if err != nil {
					t.Errorf("%s: %v", flood.name, err)
				} else if status != http.StatusRequestHeaderFieldsTooLarge && status != http.StatusBadRequest {
					t.Errorf("%s: status %d, want 431 or 400", flood.name, status)
				}
			}
		})
		// The slow clients run side by side; each may take up to slowClientBound.
		t.Run("slow body", func(t *testing.T) {
			t.Parallel()
			body := fromBob("slow body")
			began := time.Now()
			status, err := rawExchange(addr, requestHead(addr, tokenIn, "slow-body", len(body))+"\r\n", body, time.Second)
			t.Logf("slow body: ended after %s with status %d, %v", time.Since(began).Round(time.Second), status, err)
			if err != nil {
				t.Errorf("a client trickling its body one byte a second: %v", err)
			} else if status == http.StatusAccepted {
				t.Errorf("a trickled body was accepted")
			}
		})
		t.Run("slow headers", func(t *testing.T) {
			t.Parallel()
			body := fromBob("slow headers")
			began := time.Now()
			// The request line arrives, then the headers one byte a second.
			status, err := rawExchange(addr, "POST /_cpim/v1/message HTTP/1.1\r\n", []byte(requestHead(addr, tokenIn, "slow-headers", len(body))[len("POST /_cpim/v1/message HTTP/1.1\r\n"):]+"\r\n"+string(body)), time.Second)
			t.Logf("slow headers: ended after %s with status %d, %v", time.Since(began).Round(time.Second), status, err)
			if err != nil {
				t.Errorf("a client trickling its headers one byte a second: %v", err)
			} else if status == http.StatusAccepted {
				t.Errorf("a trickled request was accepted")
			}
		})
	})

	rateLimited := []string{}
	t.Run("rate limit", func(t *testing.T) {
		// From a contact of its own, so that what passes the limit can be told apart in Matrix.
		var got429 bool
		for i := 0; i < 4*secBurst && !got429; i++ {
			text := fmt.Sprintf("burst %d", i)
			m := cpim.NewText(cpim.Address{URI: "im:rl@example.net"}, cpim.Address{URI: aliceIM}, text)
			code, hdr, resp := postRaw(t, msgURL, tokenIn, "burst-"+text, bytes.NewReader(m.Bytes()), -1)
			switch code {
			case http.StatusAccepted:
				rateLimited = append(rateLimited, text)
			case http.StatusTooManyRequests:
				got429 = true
				checkRefusal(t, "over the rate limit", code, resp, http.StatusTooManyRequests, "CPIM_RATE_LIMITED")
				if hdr.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After")
				}
			default:
				t.Fatalf("%s: %d %s", text, code, resp)
			}
		}
		if !got429 {
			t.Errorf("%d messages in a burst all got 202; want 429 CPIM_RATE_LIMITED after %d (docs/http-binding.md §3; network.rate_limit)", len(rateLimited), secBurst)
		}
	})

	// A last good message from bob marks the end; retried over 429 as a gateway would.
	for {
		code, hdr, resp := postRaw(t, msgURL, tokenIn, "marker", bytes.NewReader(fromBob("marker")), -1)
		if code == http.StatusAccepted {
			break
		}
		if code != http.StatusTooManyRequests {
			t.Fatalf("marker: %d %s", code, resp)
		}
		time.Sleep(retryAfter(hdr))
	}

	// In Matrix: one room from bob with the marker alone, one from rl with what passed the limit,
	// and no other invite (mallory, or a room for any other refused message).
	bobGhost := id.NewUserID("cpim_bob=40example.net", hs.ServerName)
	rlGhost := id.NewUserID("cpim_rl=40example.net", hs.ServerName)
	want := map[id.UserID][]string{bobGhost: {"marker"}}
	if len(rateLimited) > 0 {
		want[rlGhost] = rateLimited
	}
	seen := map[id.RoomID]bool{}
	got := map[id.UserID][]string{}
	for range want {
		room := waitChatInvite(t, alice, seen)
		// The room is a DM with whichever ghost sent the first message in it.
		first := waitMessage(t, alice, room, "a message", func(e *event.Event, _ *event.MessageEventContent) bool {
			return strings.HasPrefix(e.Sender.String(), "@cpim_")
		})
		ghost := first.Sender
		if want[ghost] == nil {
			t.Errorf("alice was invited to %s, where %s wrote %q", room, ghost, first.Content.AsMessage().Body)
			continue
		}
		last := want[ghost][len(want[ghost])-1]
		waitMessage(t, alice, room, "last message from "+ghost.String(), func(e *event.Event, c *event.MessageEventContent) bool {
			return e.Sender == ghost && c.Body == last
		})
		got[ghost] = messagesFrom(t, alice, room, ghost)
	}
	for ghost, msgs := range want {
		if strings.Join(got[ghost], "|") != strings.Join(msgs, "|") {
			t.Errorf("messages from %s in Matrix = %q, want %q", ghost, got[ghost], msgs)
		}
	}
	resp, err := alice.SyncRequest(t.Context(), 0, "", "", false, event.PresenceOffline)
	if err != nil {
		t.Fatal(err)
	}
	for roomID, invite := range resp.Rooms.Invite {
		space := false
		for _, evt := range invite.State.Events {
			if evt.Type == event.StateCreate {
				space = evt.Content.Raw["type"] == string(event.RoomTypeSpace)
			}
		}
		if !seen[roomID] && !space {
			t.Errorf("alice has an unexpected invite to %s: a refused message reached Matrix", roomID)
		}
	}
	t.Logf("TestSecurity took %s", time.Since(start))
}

// checkRefusal checks an error answer of docs/http-binding.md §3.
func checkRefusal(t *testing.T, what string, code int, resp string, status int, errcode string) {
	t.Helper()
	var e struct{ Errcode, Error string }
	if err := json.Unmarshal([]byte(resp), &e); err != nil || code != status || e.Errcode != errcode || e.Error == "" {
		t.Errorf("%s: got %d %s, want %d with errcode %s and an error text", what, code, resp, status, errcode)
	}
}

// postRaw posts body to the inbound endpoint; size -1 sends it chunked.
func postRaw(t *testing.T, url, token, key string, body io.Reader, size int64) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	if size < 0 {
		req.Body = io.NopCloser(body) // hides the length, so the request goes chunked
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "message/cpim")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, resp.Header, string(data)
}

// oversized is a well-formed message to to with a body of n bytes.
func oversized(to string, n int) []byte {
	return cpim.NewText(cpim.Address{URI: "im:bob@example.net"}, cpim.Address{URI: to}, strings.Repeat("x", n)).Bytes()
}

// requestHead is the start of a valid inbound request, up to but not including the empty line.
func requestHead(host, token, key string, size int) string {
	return "POST /_cpim/v1/message HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + token +
		"\r\nContent-Type: message/cpim\r\nIdempotency-Key: " + key + "\r\nContent-Length: " + fmt.Sprint(size) + "\r\n"
}

// rawExchange writes head, then rest: at once if every is 0, else one byte per every. It returns
// the status of the answer, or 0 with a nil error if the bridge closed the connection without
// one. It gives up with an error after slowClientBound.
func rawExchange(addr, head string, rest []byte, every time.Duration) (int, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err = conn.SetDeadline(time.Now().Add(slowClientBound)); err != nil {
		return 0, err
	}
	go func() {
		if _, err := io.WriteString(conn, head); err != nil {
			return
		}
		if every == 0 {
			_, _ = conn.Write(rest)
			return
		}
		for _, c := range rest {
			time.Sleep(every)
			if _, err := conn.Write([]byte{c}); err != nil {
				return // the bridge ended the connection
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return 0, fmt.Errorf("the bridge still held the connection after %s", slowClientBound)
		}
		return 0, nil // closed or reset: ended
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// retryAfter is the wait a 429 asks for, at least 100 ms.
func retryAfter(h http.Header) time.Duration {
	var s int
	if _, err := fmt.Sscan(h.Get("Retry-After"), &s); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 100 * time.Millisecond
}
