//go:build linux

package keyring_test

import (
	"errors"
	"fmt"
	"slices"
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
	_, start, err := p.Changes(ctx, ^uint64(0))
	if err != nil {
		t.Fatal(err)
	}
	k := must[keyring.Serial](t)(p.Add(ctx, "user", "secret", []byte("1"), ring))
	must[keyring.Serial](t)(p.Add(ctx, "user", "secret", []byte("2"), ring))
	if err := p.Unlink(ctx, k, ring); err != nil {
		t.Fatal(err)
	}
	cs, cur, err := p.Changes(ctx, start)
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
	if more, _, _ := p.Changes(ctx, cur); len(more) != 0 {
		t.Errorf("changes after the latest: %v", more)
	}
	// Bob may view none of alice's keys.
	if cs, _, err := e.store.Process(bob).Changes(ctx, start); err != nil || len(cs) != 0 {
		t.Errorf("bob sees %q, %v", changeLines(cs), err)
	}
}

// A history of four changes forgets older ones, and says so; one from
// before the store opened is not known either.
func TestChangesCompacted(t *testing.T) {
	e := newEnv(t, keyring.Options{HistoryLen: 4})
	p := e.store.Process(alice)
	_, start, _ := p.Changes(ctx, ^uint64(0))
	var revs []uint64
	for i := range 5 {
		// Each add of a new key is two changes in one commit.
		must[keyring.Serial](t)(p.Add(ctx, "user", fmt.Sprint(i), []byte("x"), keyring.UserKeyring))
		_, cur, _ := p.Changes(ctx, ^uint64(0))
		revs = append(revs, cur)
	}
	_, _, err := p.Changes(ctx, start)
	if !errors.Is(err, keyring.ErrCompacted) || !errors.Is(err, unix.ESTALE) {
		t.Errorf("changes from the start: %v, want ErrCompacted", err)
	}
	if _, _, err := p.Changes(ctx, revs[1]); !errors.Is(err, keyring.ErrCompacted) {
		t.Errorf("changes after the second of five commits of two: %v, want ErrCompacted", err)
	}
	if cs, _, err := p.Changes(ctx, revs[2]); err != nil || len(cs) != 4 {
		t.Errorf("the last two commits: %q, %v", changeLines(cs), err)
	}
	e.reopen()
	p = e.store.Process(alice)
	if _, _, err := p.Changes(ctx, revs[3]); !errors.Is(err, keyring.ErrCompacted) {
		t.Errorf("changes from before the store opened: %v", err)
	}
	if cs, _, err := p.Changes(ctx, revs[4]); err != nil || len(cs) != 0 {
		t.Errorf("changes since the last before opening: %v, %v", cs, err)
	}
}

func TestChangesNone(t *testing.T) {
	e := newEnv(t, keyring.Options{HistoryLen: -1})
	if _, _, err := e.store.Process(alice).Changes(ctx, 0); !errors.Is(err, keyring.ErrCompacted) {
		t.Errorf("a store that keeps no history: %v", err)
	}
}
