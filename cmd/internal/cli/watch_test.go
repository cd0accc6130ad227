//go:build linux

package cli

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// keyctl-go watch @u in one process hears keyctl-go add ... @u made by
// another: the watcher starts the store's daemon (detached, and it stays
// up), the adding process goes through it, and the watcher prints
// keyutils' line for each change.
func TestWatchHearsAnotherProcess(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	env := append(os.Environ(), "KEYCTL_GO_DB="+db, "KEYCTL_GO_SOCKET=", "KEYCTL_GO_SESSION=")
	watcher := exec.Command(keyctlGo, "watch", "@u")
	watcher.Env = env
	out, err := watcher.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watcher.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		watcher.Process.Kill()
		watcher.Wait()
		stopDaemonOf(t, db)
	})
	lines := make(chan string, 16)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	add := func(desc string) string {
		cmd := exec.Command(keyctlGo, "add", "user", desc, "v", "@u")
		cmd.Env = env
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("add %s: %v", desc, err)
		}
		return strings.TrimSpace(string(b))
	}
	// The watch is set a moment after the watcher starts: add until it
	// hears one, then check that it hears the next one.
	link := regexp.MustCompile(`^[0-9]+ link ([0-9]+)$`)
	added := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for heard := false; !heard; {
		added[add("k"+strconv.Itoa(len(added)))] = true
		select {
		case line := <-lines:
			m := link.FindStringSubmatch(line)
			if m == nil || !added[m[1]] {
				t.Fatalf("the watcher printed %q, want a link of a key added", line)
			}
			heard = true
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the watcher heard nothing")
		}
	}
	id := add("the-next-one")
	for {
		select {
		case line := <-lines:
			if m := link.FindStringSubmatch(line); m != nil && m[1] == id {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the watcher did not hear key %s being linked", id)
		}
	}
}

// stopDaemonOf ends the daemon a watcher started for db (stopDaemon).
func stopDaemonOf(t *testing.T, db string) {
	t.Helper()
	if err := stopDaemon(db, os.Getenv("XDG_RUNTIME_DIR"), os.Getenv("HOME")); err != nil {
		t.Error(err)
	}
}

func TestWatchLinesAndFilters(t *testing.T) {
	all := [8]bool{}
	for _, tc := range []struct {
		rec  watchqueue.Record
		want string
		last bool
	}{
		{watchqueue.KeyNotification{Subtype: watchqueue.KeyLinked, KeyID: 5, Aux: 6}, "5 link 6", false},
		{watchqueue.KeyNotification{Subtype: watchqueue.KeyUnlinked, KeyID: 5, Aux: 6}, "5 unlk 6", false},
		{watchqueue.KeyNotification{Subtype: watchqueue.KeyInstantiated, KeyID: 5}, "5 inst", false},
		{watchqueue.KeyNotification{Subtype: watchqueue.KeySetattr, KeyID: 5}, "5 attr", false},
		{watchqueue.Removal{Tag: 2, ID: 9, HasID: true}, "9 gc", false},
		{watchqueue.Removal{Tag: watchTag, ID: 9, HasID: true}, "9 gc", true},
		{watchqueue.Loss{}, "-- LOSS --", false},
	} {
		if line, last := watchLine(tc.rec, all, false); line != tc.want || last != tc.last {
			t.Errorf("%+v: %q %v, want %q %v", tc.rec, line, last, tc.want, tc.last)
		}
	}
	var linksOnly [8]bool
	linksOnly[watchqueue.KeyLinked] = true
	if line, _ := watchLine(watchqueue.KeyNotification{Subtype: watchqueue.KeyUpdated, KeyID: 1}, linksOnly, true); line != "" {
		t.Errorf("-fl printed an update: %q", line)
	}
	if line, _ := watchLine(watchqueue.Loss{}, linksOnly, true); line != "-- LOSS --" {
		t.Error("a filter hid a loss record")
	}
	_, errs, code := keyctlRun(t, filepath.Join(t.TempDir(), "k.db"), "", "watch", "-fx", "@u")
	if code != 2 || errs != "Unknown filter character 'x'\n" {
		t.Errorf("watch -fx: exit %d, %q", code, errs)
	}
}
