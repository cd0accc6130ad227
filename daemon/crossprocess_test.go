//go:build linux

package daemon_test

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// A process that watches two keys hears the changes another process makes
// to them, in the order they were committed.
func TestWatchAcrossProcesses(t *testing.T) {
	e := newEnv(t, daemon.Options{})
	bin := childBinary(t)
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	add := func(name string) step {
		return step{Op: "add", Name: name, Type: "user", Desc: name, Payload: "v0", Ring: int32(keyring.UserKeyring)}
	}
	setup := startScript(t, bin, e.path, uid, gid, add("a"), add("b"))
	a, b := setup.next("add").Serial, setup.next("add").Serial

	const rounds = 5
	watcher := startScript(t, bin, e.path, uid, gid,
		step{Op: "watch", Key: a, Tag: 1},
		step{Op: "watch", Key: b, Tag: 2},
		step{Op: "records", N: 2 * rounds},
	)
	watcher.next("watch")
	watcher.next("watch")

	var steps []step
	var want []string
	for i := range rounds {
		for _, k := range []int32{a, b} {
			steps = append(steps, step{Op: "update", Key: k, Payload: fmt.Sprint("v", i+1)})
			want = append(want, fmt.Sprintf("%v %d", watchqueue.KeyUpdated, k))
		}
	}
	writer := startScript(t, bin, e.path, uid, gid, steps...)
	for range steps {
		if o := writer.next("update"); o.Errno != 0 {
			t.Fatalf("update: errno %d", o.Errno)
		}
	}
	if got := watcher.next("records").Records; !slices.Equal(got, want) {
		t.Fatalf("the watcher heard\n%q\nwant, in commit order,\n%q", got, want)
	}
}
