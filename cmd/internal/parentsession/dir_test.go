//go:build linux

package parentsession

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

const store = "/run/user/0/keyctl-go/socket"

// testDir is an empty records directory the caller owns.
func testDir(t *testing.T) Dir {
	t.Helper()
	return Dir{Path: filepath.Join(t.TempDir(), "parents")}
}

// parent is this test process's parent with its ids, what a record for
// it names.
func parent(t *testing.T) Proc {
	t.Helper()
	p, err := ReadProc(os.Getppid())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func recordFor(p Proc, session keyring.Serial) Record {
	return Record{PID: p.PID, Start: p.Start, UID: p.UIDs[0], GID: p.GIDs[0], Session: session}
}

// A record applies to the process's children forked afterwards: Find,
// from this process, finds the one its parent was given before it
// started, and not one given later, nor one for another store, nor one
// for another process that had the parent's pid (another start time).
func TestFind(t *testing.T) {
	pp := parent(t)
	if !pp.hasIDs(uint32(os.Geteuid()), uint32(os.Getegid())) {
		t.Skip("the test's parent has other ids than the test")
	}
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		rec   func(Record) Record
		store string
		want  bool
	}{
		{"recorded before we started", func(r Record) Record { r.Recorded = self.Start - 1; return r }, store, true},
		{"recorded in our start's tick", func(r Record) Record { r.Recorded = self.Start; return r }, store, true},
		{"recorded after we started", func(r Record) Record { r.Recorded = self.Start + 1; return r }, store, false},
		{"another store's", func(r Record) Record { return r }, "/elsewhere/socket", false},
		{"an earlier process with the pid", func(r Record) Record { r.Start--; return r }, store, false},
		{"other ids than the parent's", func(r Record) Record { r.UID++; return r }, store, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := testDir(t)
			if _, _, err := d.Put(c.store, c.rec(recordFor(pp, 42))); err != nil {
				t.Fatal(err)
			}
			r, ok, err := d.Find(store, Owner{}, uint32(os.Geteuid()))
			if err != nil || ok != c.want || ok && r.Session != 42 {
				t.Errorf("Find: %+v, %v, %v; want found %v", r, ok, err, c.want)
			}
		})
	}

	// A record for this very process applies to it whenever it was
	// made: it was given the session, and exec'd since.
	me, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	d := testDir(t)
	mine := recordFor(me, 7)
	mine.Recorded = self.Start + 100
	if _, _, err := d.Put(store, mine); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.Put(store, recordFor(pp, 42)); err != nil {
		t.Fatal(err)
	}
	if r, ok, err := d.Find(store, Owner{}, uint32(os.Geteuid())); !ok || err != nil || r.Session != 7 {
		t.Errorf("Find with a record for the caller itself: %+v, %v, %v; want its session, 7", r, ok, err)
	}

	// The process that handed a session down stands between: a record
	// above it does not apply.
	d = testDir(t)
	if _, _, err := d.Put(store, recordFor(pp, 42)); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := d.Find(store, Owner{PID: pp.PID, Start: pp.Start}, uint32(os.Geteuid())); ok || err != nil {
		t.Errorf("Find with the parent as the owner of the session handed down: %v, %v; want none", ok, err)
	}
	// Nor does it apply to another uid.
	if _, ok, err := d.Find(store, Owner{}, uint32(os.Geteuid())+1); ok || err != nil {
		t.Errorf("Find for another uid: %v, %v; want none", ok, err)
	}
}

// Records are read only from a directory nobody but the user could have
// written: anything else is an error naming it, and nothing is found.
func TestFindRefusesAnUnsafeDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to give the directory to another uid")
	}
	pp := parent(t)
	for _, c := range []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  error
	}{
		{"group-writable", func(t *testing.T, dir string) { must(t, os.Chmod(dir, 0o770)) }, unix.EPERM},
		{"another user's", func(t *testing.T, dir string) { must(t, os.Chown(dir, 1001, 1001)) }, unix.EPERM},
		{"a symbolic link", func(t *testing.T, dir string) {
			must(t, os.Rename(dir, dir+".real"))
			must(t, os.Symlink(dir+".real", dir))
		}, unix.ENOTDIR},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := testDir(t)
			if _, _, err := d.Put(store, recordFor(pp, 42)); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := d.Find(store, Owner{}, 0); !ok || err != nil {
				t.Fatalf("before: %v, %v", ok, err)
			}
			c.spoil(t, d.Path)
			if _, ok, err := d.Find(store, Owner{}, 0); ok || !errors.Is(err, c.want) {
				t.Errorf("Find: %v, %v; want %v", ok, err, c.want)
			}
			if gone, err := d.Sweep(store); len(gone) != 0 || !errors.Is(err, c.want) {
				t.Errorf("Sweep: %v, %v; want %v", gone, err, c.want)
			}
			if _, _, err := d.Put(store, recordFor(pp, 43)); !errors.Is(err, c.want) {
				t.Errorf("Put: %v; want %v", err, c.want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Put replaces a process's record and hands back the one replaced,
// exactly once even when two race, so that each session is let go once.
func TestPutReplaces(t *testing.T) {
	d := testDir(t)
	pp := parent(t)
	if old, replaced, err := d.Put(store, recordFor(pp, 1)); replaced || err != nil {
		t.Fatalf("first Put: %+v, %v, %v", old, replaced, err)
	}
	old, replaced, err := d.Put(store, recordFor(pp, 2))
	if !replaced || err != nil || old.Session != 1 {
		t.Fatalf("second Put: %+v, %v, %v; want session 1 replaced", old, replaced, err)
	}
	const racers = 8
	var mu sync.Mutex
	let := map[keyring.Serial]int{}
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			old, replaced, err := d.Put(store, recordFor(pp, keyring.Serial(10+i)))
			if err != nil {
				t.Error(err)
			}
			if replaced {
				mu.Lock()
				let[old.Session]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Of sessions 2 and 10..17, every one but the last written was
	// handed back, once.
	if len(let) != racers {
		t.Errorf("handed back %v; want %d sessions once each", let, racers)
	}
	for s, n := range let {
		if n != 1 {
			t.Errorf("session %d handed back %d times", s, n)
		}
	}
	entries, _ := os.ReadDir(d.Path)
	if len(entries) != 1 {
		t.Errorf("%d files left, want the one record", len(entries))
	}
}

// Sweep removes the records of processes that are gone, or whose pid a
// later process has, and keeps the others; each is swept once.
func TestSweep(t *testing.T) {
	d := testDir(t)
	pp := parent(t)
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	gone, err := ReadProc(cmd.Process.Pid)
	cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	earlier := pp
	earlier.Start--
	recs := []Record{recordFor(pp, 1), recordFor(earlier, 2)}
	// Many records of gone processes, for the sweepers to race on.
	const gones = 64
	for i := range gones {
		g := gone
		g.Start += uint64(i)
		recs = append(recs, recordFor(g, keyring.Serial(3+i)))
	}
	for _, r := range recs {
		if _, _, err := d.Put(store, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := d.Put("/elsewhere/socket", recordFor(gone, 4)); err != nil {
		t.Fatal(err)
	}
	swept := map[keyring.Serial]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			rs, err := d.Sweep(store)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range rs {
				if swept[r.Session] {
					t.Errorf("session %d swept twice", r.Session)
				}
				swept[r.Session] = true
			}
		})
	}
	wg.Wait()
	if len(swept) != 1+gones || swept[1] {
		t.Errorf("swept %d sessions (the live process's: %v); want the %d others", len(swept), swept[1], 1+gones)
	}
	entries, _ := os.ReadDir(d.Path)
	if len(entries) != 2 {
		t.Errorf("%d records left, want the live process's and the other store's", len(entries))
	}
}

// Parent refuses what the kernel's KEYCTL_SESSION_TO_PARENT refuses: a
// go test binary's parent is go test, which runs many threads.
func TestParentRefusesAThreadedParent(t *testing.T) {
	pp := parent(t)
	if pp.Threads == 1 {
		t.Skip("the test's parent runs one thread")
	}
	if _, err := Parent(uint32(os.Geteuid()), uint32(os.Getegid())); !errors.Is(err, unix.EPERM) {
		t.Errorf("Parent: %v; want EPERM", err)
	}
}
