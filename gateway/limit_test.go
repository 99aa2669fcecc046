package gateway

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

type countAcceptor struct{ n int }

func (a *countAcceptor) Accept(context.Context, *Inbound) error { a.n++; return nil }

func inbound(gw, from string) *Inbound {
	return &Inbound{Gateway: &Config{Name: gw}, Message: &cpim.Message{From: cpim.Address{URI: from}}}
}

func TestLimitPerSender(t *testing.T) {
	acc := &countAcceptor{}
	l := Limit(acc, Limits{PerSender: 0.001, Burst: 2})
	ctx := context.Background()
	for i := range 2 {
		if err := l.Accept(ctx, inbound("gw", "im:bob@example.net")); err != nil {
			t.Fatalf("message %d within the burst refused: %v", i, err)
		}
	}
	// The same sender spelled as a SIP URI shares the limit.
	err := l.Accept(ctx, inbound("gw", "sip:bob@EXAMPLE.net"))
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Status != http.StatusTooManyRequests || ref.Code != CodeRateLimited || ref.Retry <= 0 {
		t.Fatalf("third message: %v, want 429 with a Retry", err)
	}
	// Another sender is not held back by bob.
	if err = l.Accept(ctx, inbound("gw", "im:carol@example.net")); err != nil {
		t.Fatalf("carol refused: %v", err)
	}
	if acc.n != 3 {
		t.Errorf("acceptor saw %d messages, want 3", acc.n)
	}
}

func TestLimitPerGatewayAndRefusalsCostNothing(t *testing.T) {
	acc := &countAcceptor{}
	l := Limit(acc, Limits{PerGateway: 0.001, PerSender: 1000, Burst: 1})
	ctx := context.Background()
	if err := l.Accept(ctx, inbound("a", "im:x@example.net")); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := l.Accept(ctx, inbound("a", "im:y@example.net")); err == nil {
			t.Fatal("gateway a over its limit was accepted")
		}
	}
	if err := l.Accept(ctx, inbound("b", "im:z@example.org")); err != nil {
		t.Fatalf("gateway b is limited separately: %v", err)
	}
	if acc.n != 2 {
		t.Errorf("acceptor saw %d messages, want 2", acc.n)
	}
}

func TestLimitOff(t *testing.T) {
	acc := &countAcceptor{}
	if Limit(acc, Limits{}) != Acceptor(acc) {
		t.Error("zero Limits should not wrap the acceptor")
	}
}
