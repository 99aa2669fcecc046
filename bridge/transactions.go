package bridge

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"maunium.net/go/mautrix/appservice"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// bridgev2 answers a homeserver transaction as soon as its events are in an in-memory channel, so a
// crash right after the answer would lose them: the homeserver never sends them again. To keep that
// from happening the bridge holds the answer until every event of the transaction has been handled,
// which for a message means queued in cpim_outbound. It can tell when that is because events are
// handled one after another (appservice.async_transactions off, portal_event_buffer 0, both enforced
// in Init): a barrier event pushed behind the transaction's events is handled after all of them.

var barrierEventType = event.Type{Type: "org.matrix-cpim.transaction_barrier", Class: event.MessageEventType}

type barriers struct {
	next    atomic.Uint64
	waiting sync.Map // id.EventID -> chan struct{}
}

// persistBeforeAck is appservice middleware that delays the answer to PUT /transactions until the
// transaction's events are handled.
func (c *Connector) persistBeforeAck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/_matrix/app/v1/transactions/") {
			next.ServeHTTP(w, r)
			return
		}
		if !c.started.Load() {
			// Events are not handled before the bridge has started, so holding the answer would
			// hold the homeserver's transaction for the whole start-up (and Synapse then fails
			// the bridge's appservice ping). It sends the transaction again later.
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"errcode":"M_UNKNOWN","error":"the bridge is starting"}`, http.StatusServiceUnavailable)
			return
		}
		resp := &heldResponse{header: http.Header{}}
		next.ServeHTTP(resp, r)
		if resp.status == 0 || resp.status == http.StatusOK {
			if !c.waitHandled(r.Context()) {
				// The homeserver gave up waiting (or we are stopping): it will send the
				// transaction again, and the queue drops what it already has.
				return
			}
		}
		for k, v := range resp.header {
			w.Header()[k] = v
		}
		if resp.status != 0 {
			w.WriteHeader(resp.status)
		}
		_, _ = w.Write(resp.body.Bytes())
	})
}

// waitHandled pushes a barrier into the event stream and waits until it is handled.
func (c *Connector) waitHandled(ctx context.Context) bool {
	evtID := id.EventID("$barrier-" + strconv.FormatUint(c.barriers.next.Add(1), 10))
	done := make(chan struct{})
	c.barriers.waiting.Store(evtID, done)
	defer c.barriers.waiting.Delete(evtID)
	select {
	case c.matrix.AS.Events <- &event.Event{Type: barrierEventType, ID: evtID}:
	case <-ctx.Done():
		return false
	}
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *Connector) handleBarrier(_ context.Context, evt *event.Event) {
	if done, ok := c.barriers.waiting.Load(evt.ID); ok {
		close(done.(chan struct{}))
	}
}

// installPersistBeforeAck sets up the barrier; see the comment at the top of this file.
func (c *Connector) installPersistBeforeAck() {
	cfg := c.Bridge.Config
	if cfg.PortalEventBuffer != 0 {
		c.Bridge.Log.Info().Int("configured", cfg.PortalEventBuffer).
			Msg("Setting bridge.portal_event_buffer to 0: matrix-cpim answers homeserver transactions only after storing their messages")
		cfg.PortalEventBuffer = 0
	}
	// A resent transaction must not send a message twice.
	cfg.DeduplicateMatrixMessages = true
	if c.matrix.Config.AppService.AsyncTransactions {
		c.Bridge.Log.Warn().Msg("appservice.async_transactions is on: homeserver transactions are answered before their messages are stored, so a crash can lose messages")
		return
	}
	c.matrix.EventProcessor.On(barrierEventType, appservice.EventHandler(c.handleBarrier))
	c.matrix.AS.Middleware = append(c.matrix.AS.Middleware, c.persistBeforeAck)
}

// heldResponse keeps a response until it may be sent.
type heldResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *heldResponse) Header() http.Header         { return h.header }
func (h *heldResponse) Write(b []byte) (int, error) { return h.body.Write(b) }
func (h *heldResponse) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

// retryHeldTransactions asks the homeserver to send now what it could not deliver while the bridge
// was starting: an appservice ping makes Synapse retry at once. Homeservers without the ping
// endpoint (Dendrite) retry on their own schedule.
func (c *Connector) retryHeldTransactions() {
	if _, err := c.matrix.AS.BotClient().AppservicePing(c.Bridge.BackgroundCtx, c.matrix.AS.Registration.ID, ""); err != nil {
		c.Bridge.Log.Debug().Err(err).Msg("Appservice ping after start-up failed")
	}
}
