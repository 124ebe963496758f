package main

import (
	"strings"
	"testing"
	"time"
)

// TestContactsFileRoundTrip: what peerchat writes, it reads back the same,
// comments and blank lines aside.
func TestContactsFileRoundTrip(t *testing.T) {
	fp := strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
	want := []contact{
		{Name: "alice", Addr: "192.0.2.7:7443", Pin: fp, Last: time.Date(2026, 12, 4, 17, 5, 9, 0, time.UTC)},
		{Name: "bob", Addr: "[2001:db8::1]:9000"},
		{Name: "carol.lan", Addr: "chat.example:7443", Pin: fp},
	}
	got, err := parseContacts("contacts", formatContacts(want))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read back %d contacts, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Addr != want[i].Addr || got[i].Pin != want[i].Pin || !got[i].Last.Equal(want[i].Last) {
			t.Errorf("contact %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestContactsFileErrorsNameTheLine: each kind of damage is reported with
// the file and the line it is on.
func TestContactsFileErrorsNameTheLine(t *testing.T) {
	fp := strings.TrimSuffix(strings.Repeat("AB:", 32), ":")
	for _, tt := range []struct{ line, want string }{
		{"alice", "found 1 columns"},
		{"alice 192.0.2.7 " + fp + " - extra", "found 5 columns"},
		{"al ice!x 192.0.2.7", `"ice!x" is neither a host name nor an IP address`},
		{"ali/ce 192.0.2.7", `"ali/ce" is not a peer name`},
		{"alice 192.0.2.7:7443:1", "cannot understand address"},
		{"alice 192.0.2.7 AB:CD:EF:01:23:45:67:89", "is a prefix"},
		{"alice 192.0.2.7 nothex", "not hexadecimal"},
		{"alice 192.0.2.7 - yesterday", `last connected "yesterday" is not an RFC 3339 time`},
		{"bob 192.0.2.8", "bob is listed twice"},
		{"alice 192.0.2.7 " + strings.Repeat("A", 1<<20), "longer than"},
	} {
		file := "# header\n\nbob 192.0.2.9 - -\n" + tt.line + "\n"
		_, err := parseContacts("/x/contacts", []byte(file))
		if err == nil || !strings.Contains(err.Error(), "contacts file /x/contacts, line 4: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("line %.60q: %.300v; want line 4 and %q", tt.line, err, tt.want)
		}
	}
}
