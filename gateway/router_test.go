package gateway

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// recordingSender answers every Send with err and counts the calls.
type recordingSender struct {
	name  string
	err   error
	calls int
}

func (s *recordingSender) Send(context.Context, *Outbound) error {
	s.calls++
	return s.err
}

func TestRouterStaticRoutes(t *testing.T) {
	r := NewRouter(nil)
	a := &recordingSender{name: "a"}
	if err := r.Add(&Config{Name: "gw-a", Domains: []string{"A.example", "a2.example"}}, a); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"a.example", "A.EXAMPLE.", "a2.example"} {
		s, name, err := r.Route(context.Background(), d)
		if err != nil || s != a || name != "gw-a" {
			t.Errorf("Route(%q) = %v, %q, %v; want gateway gw-a", d, s, name, err)
		}
	}
	_, _, err := r.Route(context.Background(), "b.example")
	var nr *NoRouteError
	if !errors.As(err, &nr) || nr.Domain != "b.example" {
		t.Errorf("Route(b.example) error = %v, want *NoRouteError for b.example", err)
	}
	if err := r.Add(&Config{Name: "gw-b", Domains: []string{"b.example", "a.example"}}, &recordingSender{}); err == nil {
		t.Error("Add accepted a domain that gw-a already serves")
	}
	if _, _, err := r.Route(context.Background(), "b.example"); err == nil {
		t.Error("a refused Add left b.example routed")
	}
}

func TestRouterSRV(t *testing.T) {
	d := newTestDNS(t,
		"_im._sip.static.test. 300 IN SRV 0 0 5060 srv.static.test.",
		"srv.static.test. 300 IN A 127.0.0.2",
		"_im._sip.dyn.test. 300 IN SRV 0 0 5060 one.dyn.test.",
		"_im._sip.dyn.test. 300 IN SRV 1 0 5061 two.dyn.test.",
		"_im._sip.dyn.test. 300 IN SRV 2 0 5062 three.dyn.test.",
		"one.dyn.test. 300 IN A 127.0.0.3",
		"two.dyn.test. 300 IN A 127.0.0.4",
		"three.dyn.test. 300 IN A 127.0.0.5",
	)
	res, _ := newResolver(d)
	var built []SRVTarget
	senders := map[string]*recordingSender{}
	r := NewRouter(&SRVRouting{
		Resolver: res,
		NewSender: func(tg SRVTarget) (Sender, error) {
			built = append(built, tg)
			s := &recordingSender{name: tg.Host, err: &SendError{Temporary: true, Status: 503, Reason: "busy"}}
			senders[tg.Host] = s
			return s, nil
		},
	})
	static := &recordingSender{}
	if err := r.Add(&Config{Name: "configured", Domains: []string{"static.test"}}, static); err != nil {
		t.Fatal(err)
	}

	s, name, err := r.Route(context.Background(), "static.test")
	if err != nil || s != static || name != "configured" {
		t.Errorf("Route(static.test) = %v, %q, %v; the configured gateway must win over SRV", s, name, err)
	}
	if q := d.queryLog(); len(q) != 0 {
		t.Errorf("a configured domain made DNS queries: %q", q)
	}

	s, name, err = r.Route(context.Background(), "dyn.test")
	if err != nil {
		t.Fatal(err)
	}
	if name != "srv:one.dyn.test" {
		t.Errorf("route name = %q, want srv:one.dyn.test", name)
	}
	if got := fmt.Sprint(targetStrings(built)); got != "[dyn.test one.dyn.test 127.0.0.3:5060 dyn.test two.dyn.test 127.0.0.4:5061]" {
		t.Errorf("senders built for %s; want the first DefaultSRVMaxTries hops in priority order", got)
	}
	// Both hops fail temporarily: each is tried once, and the last error is returned.
	err = s.Send(context.Background(), &Outbound{})
	if !IsTemporary(err) || senders["one.dyn.test"].calls != 1 || senders["two.dyn.test"].calls != 1 {
		t.Errorf("Send = %v after calls one=%d two=%d; want one try each and a temporary error",
			err, senders["one.dyn.test"].calls, senders["two.dyn.test"].calls)
	}

	_, _, err = r.Route(context.Background(), "nothing.test")
	var nr *NoRouteError
	if !errors.As(err, &nr) {
		t.Errorf("Route(nothing.test) error = %v, want *NoRouteError", err)
	}
}

func TestFailover(t *testing.T) {
	temp := &SendError{Temporary: true, Reason: "timeout"}
	perm := &SendError{Status: 403, Reason: "Forbidden"}
	tests := []struct {
		name      string
		errs      []error
		wantErr   error
		wantCalls []int
	}{
		{"first succeeds", []error{nil, nil}, nil, []int{1, 0}},
		{"temporary then success", []error{temp, nil}, nil, []int{1, 1}},
		{"permanent stops", []error{perm, nil}, perm, []int{1, 0}},
		{"all temporary", []error{temp, temp}, temp, []int{1, 1}},
	}
	for _, tt := range tests {
		var f failover
		var rs []*recordingSender
		for _, e := range tt.errs {
			s := &recordingSender{err: e}
			rs = append(rs, s)
			f = append(f, s)
		}
		err := f.Send(context.Background(), &Outbound{})
		if err != tt.wantErr {
			t.Errorf("%s: Send = %v, want %v", tt.name, err, tt.wantErr)
		}
		for i, s := range rs {
			if s.calls != tt.wantCalls[i] {
				t.Errorf("%s: sender %d called %d times, want %d", tt.name, i, s.calls, tt.wantCalls[i])
			}
		}
	}
}
