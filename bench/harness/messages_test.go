package harness

import (
	"strings"
	"testing"

	"github.com/matrix-cpim/matrix-cpim/cpim"
)

func TestTextCarriesSeq(t *testing.T) {
	for _, seq := range []int{0, 7, 123456} {
		for _, size := range []int{0, 100} {
			text := Text(seq, size)
			if len(text) < size {
				t.Errorf("Text(%d, %d) is %d bytes", seq, size, len(text))
			}
			if got, ok := FindSeq([]byte(`{"body":"` + text + `"}`)); !ok || got != seq {
				t.Errorf("FindSeq(Text(%d, %d)) = %d, %v", seq, size, got, ok)
			}
		}
	}
	for _, b := range []string{"", "no marker", "#seq=", "#seq=x1"} {
		if n, ok := FindSeq([]byte(b)); ok {
			t.Errorf("FindSeq(%q) = %d, true; want false", b, n)
		}
	}
}

func TestTopology(t *testing.T) {
	topo := Topology{ServerName: "hs.test", Users: 3, Ghosts: 4, Gateways: 2}
	seen := map[[2]int]bool{}
	for seq := range topo.Pairs() {
		u, g := topo.Pair(seq)
		if u < 0 || u >= topo.Users || g < 0 || g >= topo.Ghosts {
			t.Fatalf("Pair(%d) = %d, %d: out of range", seq, u, g)
		}
		seen[[2]int{u, g}] = true
	}
	if len(seen) != topo.Pairs() {
		t.Errorf("the first Pairs() messages cover %d pairs, want %d", len(seen), topo.Pairs())
	}
	if u, g := topo.Pair(topo.Pairs() + 5); [2]int{u, g} != [2]int{1, 1} {
		t.Errorf("Pair wraps to %d, %d, want 1, 1", u, g)
	}

	in, err := topo.InboundMessage("run", 6, 50)
	if err != nil {
		t.Fatal(err)
	}
	m, err := cpim.Parse(in.Body)
	if err != nil {
		t.Fatalf("the message is not strict CPIM: %v\n%s", err, in.Body)
	}
	// seq 6 is user 1, ghost 2, which gateway 0 serves.
	if in.To != "@u1:hs.test" || in.From != "c2@gw0.example" || in.Gateway != 0 || in.Key != "run-6" {
		t.Errorf("InboundMessage = %+v", in)
	}
	if m.From.URI != "im:c2@gw0.example" || len(m.To) != 1 || m.To[0].URI != "im:u1@hs.test" {
		t.Errorf("From %v To %v", m.From, m.To)
	}
	if seq, ok := FindSeq(m.Content.Body); !ok || seq != 6 {
		t.Errorf("content %q does not carry seq 6", m.Content.Body)
	}
}

func TestMatrixEvent(t *testing.T) {
	ev := string(MatrixEvent("out", 42, 10, "!r:hs.test", "@u0:hs.test", 1000))
	for _, want := range []string{`"type":"m.room.message"`, `"room_id":"!r:hs.test"`, `"sender":"@u0:hs.test"`, `"event_id":"$out-42"`, `"origin_server_ts":1000`, `#seq=42`} {
		if !strings.Contains(ev, want) {
			t.Errorf("event lacks %s: %s", want, ev)
		}
	}
}
