//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestDemoWatcherSeesEveryChangeThenItsRemoval(t *testing.T) {
	var out strings.Builder
	if err := run(filepath.Join(t.TempDir(), "keys.db"), &out); err != nil {
		t.Fatal(err)
	}
	// Reference §2.2: add posts LINKED on the keyring; an add that updates
	// posts only on the key (nobody watches it); unlink posts UNLINKED;
	// clear posts CLEARED; removing the watch sends a removal record.
	want := `changer: add user token, update it, add user other, unlink token, clear @u
watcher: @u link token
watcher: @u link other
watcher: @u unlk token
watcher: @u clr
watcher: @u gc
`
	if out.String() != want {
		t.Errorf("demo printed:\n%s\nwant:\n%s", out.String(), want)
	}
}
