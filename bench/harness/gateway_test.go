package harness

import (
	"net/http"
	"strings"
	"testing"
)

func TestGatewayReportsArrivals(t *testing.T) {
	g, err := StartGateway()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	post := func(body string) {
		t.Helper()
		resp, err := http.Post(g.URL+"/gw0", "message/cpim", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("gateway answered %d", resp.StatusCode)
		}
	}
	post(Text(1, 0)) // not tracked yet
	tr := NewTracker(2)
	g.Track(tr)
	post("From: <im:a@b>\r\n\r\n" + Text(1, 20))
	post("no marker")
	n, dups, unknown := tr.Arrivals()
	if n != 1 || dups != 0 || unknown != 1 || g.Requests() != 3 {
		t.Errorf("arrivals %d, dups %d, unknown %d, requests %d; want 1, 0, 1, 3", n, dups, unknown, g.Requests())
	}
}
