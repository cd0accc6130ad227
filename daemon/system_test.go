//go:build linux

package daemon_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
	"github.com/keyctl-go/keyctl-go/watchqueue"
)

// The two users of the system-mode test, as on a machine's first two
// accounts.
const (
	alice = 1000
	bob   = 1001
)

// systemPaths are the system daemon's socket and store under a fresh
// directory standing for /, which every user may enter, as / is.
func systemPaths(t *testing.T) (socket, store string) {
	t.Helper()
	root, err := os.MkdirTemp("", "keyctl-go-system-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, daemon.SystemSocket), filepath.Join(root, daemon.SystemStore)
}

// The directories PrepareSystemDirs makes let every user reach the socket
// and nobody but the daemon read the store. Directories already there
// keep their mode, whatever it is, shared ones like /tmp included; those
// that somebody else could swap the socket in, at any level, are refused
// with their name.
func TestPrepareSystemDirs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system daemon's directories are root's")
	}
	socket, store := systemPaths(t)
	if err := daemon.PrepareSystemDirs(socket, store); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]os.FileMode{filepath.Dir(socket): 0o755, filepath.Dir(store): 0o700} {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode() != os.ModeDir|want {
			t.Errorf("%s: %v, %v; want a directory of mode %v", dir, fi.Mode(), err, want)
		}
	}

	const sticky = os.ModeSticky | 0o777
	for _, c := range []struct {
		name string
		// setup changes the tree of a fresh socket and store, and says
		// which directory is at fault, if any.
		setup func(t *testing.T, socket, store string) (bad string)
		want  unix.Errno
	}{
		{"store directory shared and sticky, as /tmp", func(t *testing.T, socket, store string) string {
			mkdir(t, filepath.Dir(store), sticky)
			return ""
		}, 0},
		{"store directory under a sticky one", func(t *testing.T, socket, store string) string {
			mkdir(t, filepath.Dir(filepath.Dir(store)), sticky)
			return ""
		}, 0},
		{"socket directory 0750", func(t *testing.T, socket, store string) string {
			mkdir(t, filepath.Dir(socket), 0o750)
			return ""
		}, 0},
		{"store directory writable by all, not sticky", func(t *testing.T, socket, store string) string {
			mkdir(t, filepath.Dir(store), 0o777)
			return filepath.Dir(store)
		}, unix.EPERM},
		{"store directory group-writable", func(t *testing.T, socket, store string) string {
			mkdir(t, filepath.Dir(store), 0o770)
			return filepath.Dir(store)
		}, unix.EPERM},
		{"a parent writable by all, not sticky", func(t *testing.T, socket, store string) string {
			mkdir(t, filepath.Dir(filepath.Dir(socket)), 0o777)
			return filepath.Dir(filepath.Dir(socket))
		}, unix.EPERM},
		{"socket directory another user's", func(t *testing.T, socket, store string) string {
			mkdir(t, filepath.Dir(socket), 0o755)
			chown(t, filepath.Dir(socket), alice)
			return filepath.Dir(socket)
		}, unix.EPERM},
		{"a parent another user's", func(t *testing.T, socket, store string) string {
			parent := filepath.Dir(filepath.Dir(store))
			mkdir(t, parent, 0o755)
			chown(t, parent, alice)
			return parent
		}, unix.EPERM},
		{"socket directory another user's, under a sticky one", func(t *testing.T, socket, store string) string {
			mkdir(t, filepath.Dir(filepath.Dir(socket)), sticky)
			mkdir(t, filepath.Dir(socket), 0o700)
			chown(t, filepath.Dir(socket), alice)
			return filepath.Dir(socket)
		}, unix.EPERM},
		{"socket directory a symbolic link", func(t *testing.T, socket, store string) string {
			symlink(t, t.TempDir(), filepath.Dir(socket))
			return filepath.Dir(socket)
		}, unix.ENOTDIR},
		{"a parent a symbolic link", func(t *testing.T, socket, store string) string {
			parent := filepath.Dir(filepath.Dir(store))
			target := t.TempDir()
			os.Chmod(target, 0o755)
			symlink(t, target, parent)
			return parent
		}, unix.ENOTDIR},
	} {
		t.Run(c.name, func(t *testing.T) {
			socket, store := systemPaths(t)
			bad := c.setup(t, socket, store)
			before := modes(t, filepath.Dir(socket), filepath.Dir(store))
			err := daemon.PrepareSystemDirs(socket, store)
			if c.want == 0 {
				if err != nil {
					t.Fatal(err)
				}
			} else if !errors.Is(err, c.want) || !strings.Contains(err.Error(), bad+" ") {
				t.Fatalf("PrepareSystemDirs: %v; want %v naming %s", err, c.want, bad)
			}
			// What was there is as it was: nothing chmodded.
			for dir, mode := range before {
				if fi, err := os.Lstat(dir); err != nil || fi.Mode() != mode {
					t.Errorf("%s was %v, is now %v (%v)", dir, mode, fi.Mode(), err)
				}
			}
		})
	}
}

// modes are the modes of the directories on the way to each of dirs that
// exist, as Lstat gives them.
func modes(t *testing.T, dirs ...string) map[string]os.FileMode {
	t.Helper()
	m := map[string]os.FileMode{}
	for _, dir := range dirs {
		for ; dir != "/"; dir = filepath.Dir(dir) {
			if fi, err := os.Lstat(dir); err == nil {
				m[dir] = fi.Mode()
			}
		}
	}
	return m
}

// mkdir makes dir and its parents (0755), and gives dir mode whatever the
// umask.
func mkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

// symlink makes link point to target, making link's parents.
func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// One system daemon, two users, each in processes of their own. The
// daemon knows each by the kernel's word alone and applies the kernel's
// rules between them: alice cannot read or watch bob's private key, can
// read, watch and update the one he opened to others, and bob hears her
// update; neither can reach into the other's keyrings; each has a quota
// of their own.
func TestSystemModeTwoUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system daemon runs as root and its clients as other uids")
	}
	const quota = 8 // keys per user, so that filling it is quick
	q := keyring.DefaultQuota
	q.MaxKeys = quota
	d := startSystemDaemon(t, keyring.Options{Quota: q})
	socket, store := d.socket, d.store
	if fi, err := os.Stat(socket); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket %v, %v: every user must be able to connect", fi.Mode(), err)
	}
	bin := childBinary(t)

	// Bob's keys: one private (the default mask: nobody but him), one
	// that others may view, read and write. He watches both.
	open := perms.DefaultUserKey | perms.Mask(perms.View|perms.Read|perms.Write)<<perms.OtherShift
	bobs := startScript(t, bin, socket, bob, bob,
		step{Op: "keyringid", Key: int32(keyring.UserKeyring)},
		step{Op: "add", Name: "private", Type: "user", Desc: "private", Payload: "bob's secret", Ring: int32(keyring.UserKeyring)},
		step{Op: "add", Name: "open", Type: "user", Desc: "open", Payload: "bob's note", Ring: int32(keyring.UserKeyring)},
		step{Op: "setperm", Ref: "open", Perm: uint32(open)},
		step{Op: "watch", Ref: "private", Tag: 1},
		step{Op: "watch", Ref: "open", Tag: 2},
		step{Op: "records", N: 1},
	)
	bobRing := bobs.next("keyringid").Serial
	private := bobs.next("add").Serial
	openKey := bobs.next("add").Serial
	for _, op := range []string{"setperm", "watch", "watch"} {
		if o := bobs.next(op); o.Errno != 0 {
			t.Fatalf("bob's %s: %v", op, unix.Errno(o.Errno))
		}
	}

	alices := startScript(t, bin, socket, alice, alice,
		step{Op: "read", Key: private},
		step{Op: "describe", Key: private},
		step{Op: "watch", Key: private, Tag: 1},
		step{Op: "read", Key: openKey},
		step{Op: "watch", Key: openKey, Tag: 2},
		step{Op: "update", Key: openKey, Payload: "alice was here"},
		step{Op: "keyringid", Key: int32(keyring.UserKeyring)},
		step{Op: "add", Type: "user", Desc: "planted", Payload: "x", Ring: bobRing},
		step{Op: "add", Name: "mine", Type: "user", Desc: "mine", Payload: "alice's", Ring: int32(keyring.UserKeyring)},
		step{Op: "describe", Ref: "mine"},
		step{Op: "chown", Ref: "mine", UID: bob},
		step{Op: "fill"},
	)
	wantErrno := func(what string, o outcome, want unix.Errno) {
		t.Helper()
		if unix.Errno(o.Errno) != want {
			t.Errorf("%s: errno %v, want %v", what, unix.Errno(o.Errno), want)
		}
	}
	wantErrno("alice reading bob's private key", alices.next("read"), unix.EACCES)
	wantErrno("alice describing bob's private key", alices.next("describe"), unix.EACCES)
	wantErrno("alice watching bob's private key", alices.next("watch"), unix.EACCES)
	if o := alices.next("read"); o.Errno != 0 || o.Data != "bob's note" {
		t.Errorf("alice reading the key bob opened: %q, errno %v", o.Data, unix.Errno(o.Errno))
	}
	wantErrno("alice watching the key bob opened", alices.next("watch"), 0)
	wantErrno("alice updating the key bob opened", alices.next("update"), 0)
	if o := alices.next("keyringid"); o.Errno != 0 || o.Serial == bobRing {
		t.Errorf("alice's @u = %d (errno %v); bob's is %d: each user has their own", o.Serial, unix.Errno(o.Errno), bobRing)
	}
	wantErrno("alice adding a key to bob's user keyring", alices.next("add"), unix.EACCES)
	mine := alices.next("add")
	if o := alices.next("describe"); o.Errno != 0 || o.UID != alice {
		t.Errorf("alice's new key: owner %d (errno %v), want %d", o.UID, unix.Errno(o.Errno), alice)
	}
	wantErrno("alice giving her key to bob", alices.next("chown"), unix.EACCES)
	filled := alices.next("fill")
	wantErrno("alice past her quota", filled, unix.EDQUOT)

	// Bob hears alice's update of his key, and nothing of her attempts
	// on the private one.
	rec := bobs.next("records")
	if want := []string{watchqueue.KeyUpdated.String() + " " + strconv.Itoa(int(openKey))}; !slices.Equal(rec.Records, want) {
		t.Errorf("bob heard %q, want %q", rec.Records, want)
	}

	// Alice's quota is spent; bob's is not, and another process of
	// alice's does not get a fresh one.
	again := startScript(t, bin, socket, alice, alice, step{Op: "add", Type: "user", Desc: "one more", Payload: "x", Ring: int32(keyring.UserKeyring)})
	wantErrno("alice's next process past her quota", again.next("add"), unix.EDQUOT)
	bobMore := startScript(t, bin, socket, bob, bob, step{Op: "fill"})
	bobFilled := bobMore.next("fill")
	wantErrno("bob past his quota", bobFilled, unix.EDQUOT)
	if bobFilled.Count == 0 {
		t.Errorf("bob could add nothing after alice filled her quota")
	}
	t.Logf("quota %d: alice added %d more after her first; bob %d more after his two", quota, filled.Count, bobFilled.Count)

	// The store agrees on who owns what, and alice's update is there.
	for id, owner := range map[int32]uint32{private: bob, openKey: bob, mine.Serial: alice} {
		p := store.Process(perms.Cred{UID: owner, GID: owner})
		d, err := p.Describe(context.Background(), keyring.Serial(id))
		if err != nil || d.UID != owner {
			t.Errorf("key %d: owner %d, %v; want %d", id, d.UID, err, owner)
		}
	}
	data, err := store.Process(perms.Cred{UID: bob, GID: bob}).Read(context.Background(), keyring.Serial(openKey))
	if err != nil || string(data) != "alice was here" {
		t.Errorf("bob's open key holds %q, %v", data, err)
	}
}

// The store's history goes to every user of the system daemon, each told
// only of what they may view: bob, a real process of his own uid, asks
// for every change since the daemon started and hears nothing of
// alice's private keys, not their descriptions, serials, updates or
// destruction, while alice's keyring that she opened to others is heard,
// with the name of her private key linked into it left out. A revision
// asked of a store of UUID nil, which none has, is refused.
func TestSystemModeHistoryIsTheCallersOwn(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system daemon runs as root and its clients as other uids")
	}
	d := startSystemDaemon(t, keyring.Options{})
	socket, store := d.socket, d.store
	ctx := context.Background()
	_, start, err := store.Process(perms.Cred{}).Changes(ctx, store.ID(), ^uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	bin := childBinary(t)

	viewable := perms.DefaultUserKey | perms.Mask(perms.View)<<perms.OtherShift
	alices := startScript(t, bin, socket, alice, alice,
		step{Op: "add", Name: "private", Type: "user", Desc: "alice-private-desc", Payload: "secret", Ring: int32(keyring.UserKeyring)},
		step{Op: "add", Name: "open", Type: "keyring", Desc: "alice-open-ring", Ring: int32(keyring.UserKeyring)},
		step{Op: "setperm", Ref: "open", Perm: uint32(viewable)},
	)
	private := alices.next("add").Serial
	open := alices.next("add").Serial
	if o := alices.next("setperm"); o.Errno != 0 {
		t.Fatalf("alice's setperm: %v", unix.Errno(o.Errno))
	}
	// A second process of hers, which knows the open keyring's serial.
	more := startScript(t, bin, socket, alice, alice,
		step{Op: "link", Key: private, Ring: open},
		step{Op: "update", Key: private, Payload: "secret 2"},
		step{Op: "add", Name: "gone", Type: "user", Desc: "alice-gone-desc", Payload: "x", Ring: int32(keyring.UserKeyring)},
		step{Op: "unlink", Ref: "gone", Ring: int32(keyring.UserKeyring)},
	)
	for _, op := range []string{"link", "update"} {
		if o := more.next(op); o.Errno != 0 {
			t.Fatalf("alice's %s: %v", op, unix.Errno(o.Errno))
		}
	}
	gone := more.next("add").Serial
	if o := more.next("unlink"); o.Errno != 0 {
		t.Fatalf("alice's unlink: %v", unix.Errno(o.Errno))
	}

	// What alice may see of it: her private key's changes, its
	// destruction, by name. The same question from bob must hear none.
	own, _, err := store.Process(perms.Cred{UID: alice, GID: alice}).Changes(ctx, store.ID(), start)
	if err != nil {
		t.Fatal(err)
	}
	ownText := strings.Join(changeTexts(own), "\n")
	for _, want := range []string{"alice-private-desc", "alice-gone-desc", "destroyed=true"} {
		if !strings.Contains(ownText, want) {
			t.Fatalf("alice's own history lacks %q, so bob's proves nothing:\n%s", want, ownText)
		}
	}

	bobs := startScript(t, bin, socket, bob, bob,
		step{Op: "changes", Rev: start},
		step{Op: "changes", Rev: start, Desc: "nil"},
	)
	heard := bobs.next("changes")
	if heard.Errno != 0 {
		t.Fatalf("bob's changes: %v", unix.Errno(heard.Errno))
	}
	text := strings.Join(heard.Changes, "\n")
	for _, secret := range []string{"alice-private-desc", "alice-gone-desc", "_uid." + strconv.Itoa(alice)} {
		if strings.Contains(text, secret) {
			t.Errorf("bob heard %q:\n%s", secret, text)
		}
	}
	var linked bool
	for _, line := range heard.Changes {
		f := strings.Fields(line)
		if f[1] == strconv.Itoa(int(private)) || f[1] == strconv.Itoa(int(gone)) {
			t.Errorf("bob heard of a change to alice's private key %s: %s", f[1], line)
		}
		if f[1] == strconv.Itoa(int(open)) && f[2] == watchqueue.KeyLinked.String() && f[3] == strconv.Itoa(int(private)) {
			linked = true
			if want := `keyring "alice-open-ring"  ""`; !strings.HasSuffix(line, want) {
				t.Errorf("bob heard the link into alice's open keyring as %s; want it to end %s", line, want)
			}
		}
	}
	if !linked {
		t.Errorf("bob did not hear the link into the keyring alice opened to him:\n%s", text)
	}
	if o := bobs.next("changes"); unix.Errno(o.Errno) != unix.ESTALE || len(o.Changes) != 0 {
		t.Errorf("bob's changes of a store of UUID nil: errno %v, %q; want ESTALE and nothing", unix.Errno(o.Errno), o.Changes)
	}
}
