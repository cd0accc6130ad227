//go:build linux

package keyring_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// changeLines is changes as "key-description subtype aux-description",
// "destroyed key-description" for removals.
func changeLines(cs []keyring.Change) []string {
	var out []string
	for _, c := range cs {
		if c.Destroyed {
			out = append(out, "destroyed "+c.KeyDescription)
			continue
		}
		out = append(out, fmt.Sprintf("%s %v %s", c.KeyDescription, c.Subtype, c.AuxDescription))
	}
	return out
}

// The history keeps the names of the keys a change concerned, so a key
// unlinked and destroyed since is still named; each change carries its
// commit's revision.
func TestChangesNameWhatIsGone(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	ring := must[keyring.Serial](t)(p.Add(ctx, "keyring", "ring", nil, keyring.UserKeyring))
	_, start, err := p.Changes(ctx, e.store.ID(), ^uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	k := must[keyring.Serial](t)(p.Add(ctx, "user", "secret", []byte("1"), ring))
	must[keyring.Serial](t)(p.Add(ctx, "user", "secret", []byte("2"), ring))
	if err := p.Unlink(ctx, k, ring); err != nil {
		t.Fatal(err)
	}
	cs, cur, err := p.Changes(ctx, e.store.ID(), start)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"secret inst ", "ring link secret", "secret upd ", "ring unlk secret", "destroyed secret"}
	if got := changeLines(cs); !slices.Equal(got, want) {
		t.Errorf("changes %q, want %q", got, want)
	}
	if cs[0].Revision != cs[1].Revision || cs[2].Revision <= cs[1].Revision || cs[3].Revision != cs[4].Revision || cur != cs[4].Revision {
		t.Errorf("revisions %v, current %d", cs, cur)
	}
	if more, _, _ := p.Changes(ctx, e.store.ID(), cur); len(more) != 0 {
		t.Errorf("changes after the latest: %v", more)
	}
	// Bob may view none of alice's keys.
	if cs, _, err := e.store.Process(bob).Changes(ctx, e.store.ID(), start); err != nil || len(cs) != 0 {
		t.Errorf("bob sees %q, %v", changeLines(cs), err)
	}
}

// A history of four changes forgets older ones, and says so; one from
// before the store opened is not known either.
func TestChangesCompacted(t *testing.T) {
	e := newEnv(t, keyring.Options{HistoryLen: 4})
	p := e.store.Process(alice)
	_, start, _ := p.Changes(ctx, e.store.ID(), ^uint64(0))
	var revs []uint64
	for i := range 5 {
		// Each add of a new key is two changes in one commit.
		must[keyring.Serial](t)(p.Add(ctx, "user", fmt.Sprint(i), []byte("x"), keyring.UserKeyring))
		_, cur, _ := p.Changes(ctx, e.store.ID(), ^uint64(0))
		revs = append(revs, cur)
	}
	_, _, err := p.Changes(ctx, e.store.ID(), start)
	if !errors.Is(err, keyring.ErrCompacted) || !errors.Is(err, unix.ESTALE) {
		t.Errorf("changes from the start: %v, want ErrCompacted", err)
	}
	if _, _, err := p.Changes(ctx, e.store.ID(), revs[1]); !errors.Is(err, keyring.ErrCompacted) {
		t.Errorf("changes after the second of five commits of two: %v, want ErrCompacted", err)
	}
	if cs, _, err := p.Changes(ctx, e.store.ID(), revs[2]); err != nil || len(cs) != 4 {
		t.Errorf("the last two commits: %q, %v", changeLines(cs), err)
	}
	before := e.store.ID()
	e.reopen()
	p = e.store.Process(alice)
	if e.store.ID().UUID != before.UUID || e.store.ID().History == before.History {
		t.Errorf("reopened, the store is %v; it was %v: the same store, another history", e.store.ID(), before)
	}
	if _, _, err := p.Changes(ctx, before, revs[4]); !errors.Is(err, keyring.ErrCompacted) {
		t.Errorf("changes since the last revision, of the history before opening: %v, want ErrCompacted", err)
	}
	if _, _, err := p.Changes(ctx, e.store.ID(), revs[3]); !errors.Is(err, keyring.ErrCompacted) {
		t.Errorf("changes from before the store opened: %v", err)
	}
	if cs, _, err := p.Changes(ctx, e.store.ID(), revs[4]); err != nil || len(cs) != 0 {
		t.Errorf("changes since the last before opening: %v, %v", cs, err)
	}
}

func TestChangesNone(t *testing.T) {
	e := newEnv(t, keyring.Options{HistoryLen: -1})
	if _, _, err := e.store.Process(alice).Changes(ctx, e.store.ID(), 0); !errors.Is(err, keyring.ErrCompacted) {
		t.Errorf("a store that keeps no history: %v", err)
	}
}

// A revision is one store's. Asked of a store made anew at the same path,
// whose own revisions have gone past it and whose history holds them, it
// is refused (ErrOtherStore, ESTALE, naming both stores), never answered
// with the new store's changes; so is uuid.Nil, which no store has.
func TestChangesOtherStore(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	must[keyring.Serial](t)(p.Add(ctx, "user", "old", []byte("1"), keyring.UserKeyring))
	old := e.store.ID()
	_, rev, err := p.Changes(ctx, old, ^uint64(0))
	if err != nil {
		t.Fatal(err)
	}

	e.store.Close()
	files, _ := filepath.Glob(e.path + "*")
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	e.open()
	p = e.store.Process(alice)
	renewed := e.store.ID()
	if renewed.UUID == old.UUID {
		t.Fatalf("the store made anew has the old one's UUID %v", old.UUID)
	}
	addPast(t, p, renewed, rev)

	for _, from := range []keyring.StoreID{old, {UUID: old.UUID, History: renewed.History}, {History: renewed.History}} {
		cs, cur, err := p.Changes(ctx, from, rev)
		if !errors.Is(err, keyring.ErrOtherStore) || !errors.Is(err, unix.ESTALE) || cs != nil || cur != 0 {
			t.Errorf("changes after %d of %v: %q, %d, %v; want ErrOtherStore", rev, from, changeLines(cs), cur, err)
		}
		if err != nil && (!strings.Contains(err.Error(), from.UUID.String()) || !strings.Contains(err.Error(), renewed.UUID.String())) {
			t.Errorf("%v: does not name both stores", err)
		}
	}
	if id, err := p.StoreID(ctx); err != nil || id != renewed {
		t.Errorf("StoreID = %v, %v; want %v", id, err, renewed)
	}
}

// A store restored from a backup has its UUID, and counts its revisions
// anew from the backup's: a revision given out after the backup was
// taken, and kept with the history it came from, is ErrCompacted, though
// the restored store's own revisions have since gone past it and its
// history holds them. Never the restored store's changes, read as if they
// followed what the consumer saw.
func TestChangesOfARestoredStore(t *testing.T) {
	e := newEnv(t, keyring.Options{})
	p := e.store.Process(alice)
	must[keyring.Serial](t)(p.Add(ctx, "user", "backed up", []byte("1"), keyring.UserKeyring))
	e.store.Close()
	backup := t.TempDir()
	files, _ := filepath.Glob(e.path + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(backup, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.open()
	p = e.store.Process(alice)
	must[keyring.Serial](t)(p.Add(ctx, "user", "after the backup", []byte("2"), keyring.UserKeyring))
	seen := e.store.ID()
	_, rev, err := p.Changes(ctx, seen, ^uint64(0))
	if err != nil {
		t.Fatal(err)
	}

	e.store.Close()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(backup, filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.open()
	p = e.store.Process(alice)
	restored := e.store.ID()
	if restored.UUID != seen.UUID {
		t.Fatalf("the restored store is %v, the one backed up %v", restored.UUID, seen.UUID)
	}
	addPast(t, p, restored, rev)
	cs, cur, err := p.Changes(ctx, seen, rev)
	if !errors.Is(err, keyring.ErrCompacted) || !errors.Is(err, unix.ESTALE) || cs != nil || cur != 0 {
		t.Errorf("changes after %d, seen before the restore: %q, %d, %v; want ErrCompacted", rev, changeLines(cs), cur, err)
	}
}

// addPast adds keys through p until the history of id holds changes after
// rev, which a revision of another history could then be misread as.
func addPast(t *testing.T, p *keyring.Process, id keyring.StoreID, rev uint64) {
	t.Helper()
	for i := 0; ; i++ {
		must[keyring.Serial](t)(p.Add(ctx, "user", fmt.Sprint("new", i), []byte("2"), keyring.UserKeyring))
		if cs, _, err := p.Changes(ctx, id, rev); err == nil && len(cs) > 0 {
			return
		}
		if i == 10 {
			t.Fatalf("the history of %v does not reach past %d", id, rev)
		}
	}
}
