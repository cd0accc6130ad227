//go:build linux

package daemon_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// OpWatchQueue shapes the caller's own queue and nothing else: bob, a
// client of the system daemon, is refused a queue past MaxNotes (EINVAL)
// and a second shaping once his queue is made (EBUSY); the filter he sets
// applies to his records only, before his queue; and alice, watching the
// same keyring meanwhile, hears everything on the daemon's default queue.
func TestWatchQueueIsTheCallersOwn(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the daemon and two users' clients")
	}
	socket := sharedSocket(t)
	bin := childBinary(t)
	startDaemonAs(t, bin, filepath.Join(t.TempDir(), "keys.db"), socket, 0, 0, daemon.Options{})

	// Bob opens his @u to alice's View, so that she may watch it, and
	// she does.
	b := startScript(t, bin, socket, bob, bob,
		step{Op: "keyringid", Key: int32(keyring.UserKeyring)},
		step{Op: "setperm", Key: int32(keyring.UserKeyring), Perm: 0x3f3f0001},
	)
	ring := b.next("keyringid").Serial
	if o := b.next("setperm"); o.Errno != 0 {
		t.Fatalf("setperm: %v", unix.Errno(o.Errno))
	}
	a := startScript(t, bin, socket, alice, alice,
		step{Op: "watch", Key: ring, Tag: 1},
		step{Op: "records", N: 1},
	)
	if o := a.next("watch"); o.Errno != 0 {
		t.Fatalf("alice watching bob's @u: %v", unix.Errno(o.Errno))
	}

	b = startScript(t, bin, socket, bob, bob,
		step{Op: "watchqueue", N: watchqueue.MaxNotes + 1},
		step{Op: "watchqueue", N: 32, Type: watchqueue.KeyUpdated.String()},
		step{Op: "watchqueue", N: 32},
		step{Op: "watch", Key: int32(keyring.UserKeyring), Tag: 1},
		step{Op: "add", Name: "k", Type: "user", Desc: "k", Payload: "1", Ring: int32(keyring.UserKeyring)},
		step{Op: "watch", Ref: "k", Tag: 2},
		step{Op: "update", Ref: "k", Payload: "2"},
		step{Op: "records", N: 1},
	)
	if o := b.next("watchqueue"); unix.Errno(o.Errno) != unix.EINVAL {
		t.Errorf("bob's queue of %d notes: errno %v, want EINVAL", watchqueue.MaxNotes+1, unix.Errno(o.Errno))
	}
	if o := b.next("watchqueue"); o.Errno != 0 {
		t.Fatalf("bob's queue of 32 notes: errno %v", unix.Errno(o.Errno))
	}
	if o := b.next("watchqueue"); unix.Errno(o.Errno) != unix.EBUSY {
		t.Errorf("bob's queue shaped again: errno %v, want EBUSY", unix.Errno(o.Errno))
	}
	for _, op := range []string{"watch", "add", "watch", "update"} {
		if o := b.next(op); o.Errno != 0 {
			t.Fatalf("bob's %s: %v", op, unix.Errno(o.Errno))
		}
	}
	// Bob's filter passed his key's update, not his keyring's link;
	// alice, unfiltered, heard the link.
	if o := b.next("records"); len(o.Records) != 1 || !strings.HasPrefix(o.Records[0], watchqueue.KeyUpdated.String()+" ") {
		t.Errorf("bob, filtered to updates, heard %v", o.Records)
	}
	if o := a.next("records"); len(o.Records) != 1 || !strings.HasPrefix(o.Records[0], watchqueue.KeyLinked.String()+" ") {
		t.Errorf("alice, unfiltered, heard %v", o.Records)
	}
}
