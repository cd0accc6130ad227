package main

import (
	"strings"
	"testing"
)

func TestDemoWatcherSeesEveryChangeThenItsRemoval(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `posting: link, update, unlink, clear; then destroying the keyring
watcher: 757569155 link 79799149
watcher: 757569155 upd
watcher: 757569155 unlk 79799149
watcher: 757569155 clr
watcher: 757569155 gc
`
	if out.String() != want {
		t.Errorf("demo printed:\n%s\nwant:\n%s", out.String(), want)
	}
}
