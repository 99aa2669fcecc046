package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// buildThenParse runs build with args and parses its output strictly.
func buildThenParse(t *testing.T, stdin string, args ...string) (wire string, j jsonMessage) {
	t.Helper()
	status, out, errOut := runTool(t, stdin, append([]string{"build"}, args...)...)
	if status != exitOK || errOut != "" {
		t.Fatalf("build %q: status %d, stderr %q", args, status, errOut)
	}
	return out, parseJSON(t, out)
}

func TestBuildTextRoundTrip(t *testing.T) {
	wire, j := buildThenParse(t, "",
		"--from", "im:alice@example.com", "--from-name", "Alice (work)",
		"--to", "im:bob@example.com", "--to", "sip:carol@example.com;transport=tcp",
		"--subject", "Lunch,\ttoday?", "--text", "Noon?\nAt Mario's ✓")
	if want := (jsonAddress{"Alice (work)", "im:alice@example.com"}); j.From != want {
		t.Errorf("from = %+v, want %+v", j.From, want)
	}
	wantTo := []jsonAddress{{"", "im:bob@example.com"}, {"", "sip:carol@example.com;transport=tcp"}}
	if !reflect.DeepEqual(j.To, wantTo) {
		t.Errorf("to = %+v, want %+v", j.To, wantTo)
	}
	if want := []jsonSubject{{"", "Lunch,\ttoday?"}}; !reflect.DeepEqual(j.Subject, want) {
		t.Errorf("subject = %+v, want %+v", j.Subject, want)
	}
	if _, err := time.Parse(time.RFC3339, j.DateTime); err != nil {
		t.Errorf("datetime %q: %v", j.DateTime, err)
	}
	if j.Content.Type != "text/plain" || j.Content.Body != "Noon?\nAt Mario's ✓" {
		t.Errorf("content %q %q", j.Content.Type, j.Content.Body)
	}
	if !strings.HasPrefix(wire, "From: ") {
		t.Errorf("output does not start at the CPIM headers:\n%s", wire)
	}
}

func TestBuildFile(t *testing.T) {
	body := "\x89PNG\r\n\x1a\n\x00\xff"
	file := filepath.Join(t.TempDir(), "pic.png")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, file, stdin string }{{"file", file, ""}, {"stdin", "-", body}} {
		t.Run(tt.name, func(t *testing.T) {
			_, j := buildThenParse(t, tt.stdin, "--from", "im:a@example.com", "--to", "im:b@example.com", "--file", tt.file, "--type", "image/png")
			got, err := base64.StdEncoding.DecodeString(j.Content.BodyBase64)
			if err != nil || string(got) != body || j.Content.Type != "image/png" {
				t.Errorf("content %q %q, %v; want image/png %q", j.Content.Type, got, err, body)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	ok := []string{"--from", "im:a@example.com", "--to", "im:b@example.com"}
	tests := []struct {
		name    string
		args    []string
		status  int
		wantErr string
	}{
		{"no from", []string{"--to", "im:b@example.com", "--text", "x"}, exitUsage, "--from is required"},
		{"no to", []string{"--from", "im:a@example.com", "--text", "x"}, exitUsage, "--to is required"},
		{"no content", ok, exitUsage, "exactly one of --text and --file"},
		{"text and file", append(ok, "--text", "x", "--file", "f", "--type", "text/plain"), exitUsage, "exactly one of --text and --file"},
		{"file without type", append(ok, "--file", "f"), exitUsage, "--type goes with --file"},
		{"type without file", append(ok, "--text", "x", "--type", "text/html"), exitUsage, "--type goes with --file"},
		{"bad type", append(ok, "--file", "f", "--type", "png"), exitUsage, `--type "png"`},
		{"relative from", []string{"--from", "alice", "--to", "im:b@example.com", "--text", "x"}, exitUsage, `--from "alice"`},
		{"bad to", append(ok, "--to", "im:c@exa mple.com", "--text", "x"), exitUsage, `--to "im:c@exa mple.com"`},
		{"argument", append(ok, "--text", "x", "extra"), exitUsage, `unexpected argument "extra"`},
		{"invalid UTF-8", append(ok, "--text", "\xff"), exitUsage, "--text is not valid UTF-8"},
		{"missing file", append(ok, "--file", "testdata/no-such-file", "--type", "image/png"), exitFail, "cpimtool: open testdata/no-such-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, errOut := runTool(t, "", append([]string{"build"}, tt.args...)...)
			if status != tt.status || out != "" || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("status %d, stdout %q, stderr %q; want %d, nothing, %q", status, out, errOut, tt.status, tt.wantErr)
			}
		})
	}
}
