package main

import (
	"bytes"
	"strings"
	"testing"
)

// runTool runs cpimtool in-process with args and stdin and returns the
// exit status and what it wrote.
func runTool(t *testing.T, stdin string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = run(args, strings.NewReader(stdin), &out, &errOut)
	return status, out.String(), errOut.String()
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantOut    string // in stdout
		wantErr    string // in stderr
	}{
		{"no command", nil, exitUsage, "", "Usage: cpimtool <command>"},
		{"unknown command", []string{"sned"}, exitUsage, "", `unknown command "sned"`},
		{"help", []string{"--help"}, exitOK, "Usage: cpimtool <command>", ""},
		{"parse help", []string{"parse", "--help"}, exitOK, "Usage: cpimtool parse", ""},
		{"build help", []string{"build", "-h"}, exitOK, "Usage: cpimtool build", ""},
		{"parse bad flag", []string{"parse", "--strict"}, exitUsage, "", "flag provided but not defined: -strict"},
		{"build bad flag", []string{"build", "--form", "im:a@b"}, exitUsage, "", "flag provided but not defined: -form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, errOut := runTool(t, "", tt.args...)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d", status, tt.wantStatus)
			}
			if !strings.Contains(out, tt.wantOut) || tt.wantOut == "" && out != "" {
				t.Errorf("stdout = %q, want it to contain %q", out, tt.wantOut)
			}
			if !strings.Contains(errOut, tt.wantErr) || tt.wantErr == "" && errOut != "" {
				t.Errorf("stderr = %q, want it to contain %q", errOut, tt.wantErr)
			}
		})
	}
}

func TestCommandHelpHasExamples(t *testing.T) {
	for _, c := range commands {
		status, out, _ := runTool(t, "", c.name, "--help")
		if status != exitOK || !strings.Contains(out, "Examples:\n  cpimtool "+c.name) || !strings.Contains(out, "Options:") {
			t.Errorf("%s --help: status %d, output without usage examples or options:\n%s", c.name, status, out)
		}
	}
}
