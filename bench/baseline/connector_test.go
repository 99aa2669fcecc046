package main

import "testing"

func TestMessageText(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"From: <im:a@b>\r\n\r\nContent-Type: text/plain\r\n\r\nhello", "hello"},
		{"From: <im:a@b>\r\n\r\nContent-Type: text/plain\r\n\r\n", ""},
		{"no blank line", "no blank line"},
	} {
		if got := messageText([]byte(tc.body)); got != tc.want {
			t.Errorf("messageText(%q) = %q, want %q", tc.body, got, tc.want)
		}
	}
}
