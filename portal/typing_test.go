package portal

import (
	"testing"
	"time"

	"github.com/matrix-cpim/matrix-cpim/cpim"
	"github.com/matrix-cpim/matrix-cpim/cpim/iscomposing"
)

func TestTypingBothWays(t *testing.T) {
	for _, tc := range []struct {
		active bool
		want   time.Duration
	}{{true, TypingRefresh}, {false, 0}} {
		m, err := NewTyping(alice, bob, tc.active)
		if err != nil {
			t.Fatal(err)
		}
		parsed, in := roundTrip(t, m)
		if parsed.Content.Type() != iscomposing.ContentType {
			t.Errorf("active=%v: content type %q", tc.active, parsed.Content.Type())
		}
		if in.Kind != KindTyping || in.Typing != tc.want {
			t.Errorf("active=%v: back %v %v, want typing %v", tc.active, in.Kind, in.Typing, tc.want)
		}
	}
}

func TestTypingFromRFC3994(t *testing.T) {
	m := cpim.NewText(bob, alice, "")
	m.Content = cpim.Content{Header: []cpim.Field{{Name: "Content-Type", Value: iscomposing.ContentType}},
		Body: []byte(`<?xml version="1.0" encoding="UTF-8"?><isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"><state>active</state></isComposing>`)}
	if in, err := FromCPIM(m); err != nil || in.Kind != KindTyping || in.Typing != iscomposing.DefaultActiveTimeout {
		t.Errorf("active without refresh: %+v %v, want the default timeout", in, err)
	}
	m.Content.Body = []byte("<not xml")
	if _, err := FromCPIM(m); err == nil {
		t.Errorf("malformed isComposing: no error")
	}
}
