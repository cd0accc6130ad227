//go:build linux

package daemon_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
	"github.com/keyctl-go/keyctl-go/perms"
)

// callerStep is one call a program makes through a keyring.Caller. ids
// carries the serials earlier steps made, by name, since each store picks
// its own. What do returns is compared between callers after serials are
// mapped to the order they first appeared in.
type callerStep struct {
	name string
	want unix.Errno // 0: the call succeeds
	do   func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error)
}

// keep returns a step body's tail that records the serial a call made
// under name, for the steps after it.
func keep(ids map[string]keyring.Serial, name string) func(keyring.Serial, error) (any, error) {
	return func(id keyring.Serial, err error) (any, error) {
		if err == nil {
			ids[name] = id
		}
		return id, err
	}
}

// ringBytes decodes what Read returns for a keyring: little-endian
// serials, which need mapping like any other serial.
func ringBytes(b []byte, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	ids := []keyring.Serial{}
	for ; len(b) >= 4; b = b[4:] {
		ids = append(ids, keyring.Serial(binary.LittleEndian.Uint32(b)))
	}
	return ids, nil
}

func ok(err error) (any, error) { return nil, err }

// callerSteps is a program's session with the store: every operation of
// keyring.Caller, succeeding and failing, in an order where later steps
// see what earlier ones did. The keys live in @u until the session
// keyring is joined near the end, since a new session stops the
// connection possessing @u's keys.
var callerSteps = []callerStep{
	{"the store's identity", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.StoreID(ctx)
	}},
	// The revision the history has reached, kept among the serials (the
	// one thing steps share) for the changes since, near the end.
	{"the revision now", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		id, err := c.StoreID(ctx)
		if err != nil {
			return nil, err
		}
		_, rev, err := c.Changes(ctx, id, ^uint64(0))
		ids["rev"] = keyring.Serial(rev)
		return nil, err
	}},
	{"changes of another store", unix.ESTALE, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		id, err := c.StoreID(ctx)
		if err != nil {
			return nil, err
		}
		id.UUID = uuid.New()
		cs, _, err := c.Changes(ctx, id, 0)
		return cs, err
	}},
	{"@u made", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return keep(ids, "@u")(c.GetKeyringID(ctx, keyring.UserKeyring, true))
	}},
	{"add a", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return keep(ids, "a")(c.Add(ctx, "user", "a", []byte("1"), keyring.UserKeyring))
	}},
	{"add b", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return keep(ids, "b")(c.Add(ctx, "user", "b", []byte("2"), keyring.UserKeyring))
	}},
	{"add sub", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return keep(ids, "sub")(c.Add(ctx, "keyring", "sub", nil, keyring.UserKeyring))
	}},
	{"add of an unknown type", unix.ENODEV, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Add(ctx, "nosuch", "x", nil, keyring.UserKeyring)
	}},
	{"add of a logon key", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return keep(ids, "logon")(c.Add(ctx, "logon", "svc:x", []byte("p"), keyring.UserKeyring))
	}},
	{"read a logon key", unix.EOPNOTSUPP, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Read(ctx, ids["logon"])
	}},
	{"keys @u", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Keys(ctx, keyring.UserKeyring)
	}},
	{"read @u", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ringBytes(c.Read(ctx, keyring.UserKeyring))
	}},
	{"keys of a user key", unix.ENOTDIR, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Keys(ctx, ids["a"])
	}},
	{"describe a", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Describe(ctx, ids["a"])
	}},
	{"describe no key", unix.ENOKEY, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Describe(ctx, 12345)
	}},
	{"update a", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Update(ctx, ids["a"], []byte("one")))
	}},
	{"read a", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Read(ctx, ids["a"])
	}},
	{"update sub", unix.EOPNOTSUPP, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Update(ctx, ids["sub"], nil))
	}},
	{"move a into sub", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Move(ctx, ids["a"], keyring.UserKeyring, ids["sub"], 0))
	}},
	{"move a again", unix.ENOENT, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Move(ctx, ids["a"], keyring.UserKeyring, ids["sub"], 0))
	}},
	{"add a second a", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return keep(ids, "a2")(c.Add(ctx, "user", "a", []byte("3"), keyring.UserKeyring))
	}},
	{"move it exclusively onto a", unix.EEXIST, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Move(ctx, ids["a2"], keyring.UserKeyring, ids["sub"], keyring.MoveExclusive))
	}},
	{"move with an unknown flag", unix.EINVAL, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Move(ctx, ids["a2"], keyring.UserKeyring, ids["sub"], 2))
	}},
	{"move with flags over 32 bits", unix.EINVAL, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Move(ctx, ids["a2"], keyring.UserKeyring, ids["sub"], 1<<32|keyring.MoveExclusive))
	}},
	{"keys sub", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Keys(ctx, ids["sub"])
	}},
	{"search @u for a", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Search(ctx, keyring.UserKeyring, "user", "a", 0)
	}},
	{"search @u for nothing", unix.ENOKEY, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Search(ctx, keyring.UserKeyring, "user", "absent", 0)
	}},
	{"negative timeout", unix.EINVAL, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.SetTimeout(ctx, ids["b"], -time.Second))
	}},
	{"timeout of an hour", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.SetTimeout(ctx, ids["b"], time.Hour))
	}},
	{"permanent again", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.SetTimeout(ctx, ids["b"], 0))
	}},
	{"setperm with bits outside the mask", unix.EINVAL, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.SetPerm(ctx, ids["b"], perms.AllMask+1))
	}},
	{"setperm for the group", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.SetPerm(ctx, ids["b"], perms.DefaultUserKey|perms.Mask(perms.View|perms.Read)<<perms.GroupShift))
	}},
	{"chown to a group", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Chown(ctx, ids["b"], keyring.Unchanged, childGroup))
	}},
	{"chown of nothing", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Chown(ctx, ids["b"], keyring.Unchanged, keyring.Unchanged))
	}},
	{"chown of no key", unix.ENOKEY, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Chown(ctx, 12345, 1, 1))
	}},
	{"describe b", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Describe(ctx, ids["b"])
	}},
	{"restrict with a type alone", unix.EINVAL, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Restrict(ctx, ids["sub"], "user", ""))
	}},
	{"restrict by an unknown type", unix.ENOKEY, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Restrict(ctx, ids["sub"], "nosuch", "x"))
	}},
	{"restrict by a type without restrictions", unix.ENOENT, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Restrict(ctx, ids["sub"], "user", "x"))
	}},
	{"restrict a user key", unix.ENOTDIR, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Restrict(ctx, ids["b"], "", ""))
	}},
	{"close sub to links", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Restrict(ctx, ids["sub"], "", ""))
	}},
	{"link into closed sub", unix.EPERM, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Link(ctx, ids["b"], ids["sub"]))
	}},
	{"restrict sub twice", unix.EEXIST, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Restrict(ctx, ids["sub"], "", ""))
	}},
	{"request_key b through @us", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.RequestKey(ctx, "user", "b", 0)
	}},
	{"request_key of nothing", unix.ENOKEY, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.RequestKey(ctx, "user", "absent", 0)
	}},
	{"own persistent keyring", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return keep(ids, "persistent")(c.GetPersistent(ctx, keyring.OwnUID, keyring.UserKeyring))
	}},
	{"describe the persistent keyring", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Describe(ctx, ids["persistent"])
	}},
	{"another uid's persistent keyring", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.GetPersistent(ctx, 4242, keyring.UserKeyring)
	}},
	{"persistent keyring into a user key", unix.ENOTDIR, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.GetPersistent(ctx, keyring.OwnUID, ids["b"])
	}},
	{"link b into @u again", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Link(ctx, ids["b"], keyring.UserKeyring))
	}},
	{"keys @u after all that", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Keys(ctx, keyring.UserKeyring)
	}},
	{"clear sub", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Clear(ctx, ids["sub"]))
	}},
	{"keys of cleared sub", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Keys(ctx, ids["sub"])
	}},
	{"read a, cleared away", unix.ENOKEY, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Read(ctx, ids["a"])
	}},
	{"clear a user key", unix.ENOTDIR, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Clear(ctx, ids["b"]))
	}},
	{"revoke b", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Revoke(ctx, ids["b"]))
	}},
	{"read revoked b", unix.EKEYREVOKED, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Read(ctx, ids["b"])
	}},
	{"invalidate a2", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Invalidate(ctx, ids["a2"]))
	}},
	{"read invalidated a2", unix.ENOKEY, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Read(ctx, ids["a2"])
	}},
	{"unlink sub", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Unlink(ctx, ids["sub"], keyring.UserKeyring))
	}},
	{"unlink sub, which nothing held after", unix.ENOKEY, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.Unlink(ctx, ids["sub"], keyring.UserKeyring))
	}},
	{"the group keyring", unix.EINVAL, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.KeyringID(ctx, keyring.GroupKeyring)
	}},
	{"@t not made yet", unix.ENOKEY, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.KeyringID(ctx, keyring.ThreadKeyring)
	}},
	{"@t made", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return keep(ids, "@t")(c.GetKeyringID(ctx, keyring.ThreadKeyring, true))
	}},
	{"@t resolved", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.KeyringID(ctx, keyring.ThreadKeyring)
	}},
	{"pin without a session", unix.ENOKEY, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.PinSession(ctx)
	}},
	{"join a new session", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return keep(ids, "@s")(c.JoinSession(ctx, ""))
	}},
	{"add s to the session", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return keep(ids, "s")(c.Add(ctx, "user", "s", []byte("in session"), keyring.SessionKeyring))
	}},
	{"add dest to the session", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return keep(ids, "dest")(c.Add(ctx, "keyring", "dest", nil, keyring.SessionKeyring))
	}},
	{"request_key s into dest", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.RequestKey(ctx, "user", "s", ids["dest"])
	}},
	{"keys dest", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.Keys(ctx, ids["dest"])
	}},
	{"request_key of @u's b, outside the session", unix.ENOKEY, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.RequestKey(ctx, "user", "b", 0)
	}},
	{"changes since the start", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		id, err := c.StoreID(ctx)
		if err != nil {
			return nil, err
		}
		cs, _, err := c.Changes(ctx, id, uint64(ids["rev"]))
		return cs, err
	}},
	{"pin the session", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.PinSession(ctx)
	}},
	{"join a named session", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return keep(ids, "named")(c.JoinSession(ctx, "named"))
	}},
	// The pin keeps the anonymous session while the process is in
	// another; without it the session would be collected on the switch.
	{"adopt the anonymous one back", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.AdoptSession(ctx, ids["@s"]))
	}},
	{"@s is it again", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return c.KeyringID(ctx, keyring.SessionKeyring)
	}},
	{"unpin it", 0, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.UnpinSession(ctx, ids["@s"]))
	}},
	{"unpin it twice", unix.EINVAL, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.UnpinSession(ctx, ids["@s"]))
	}},
	{"adopt a user key", unix.ENOTDIR, func(ctx context.Context, c keyring.Caller, ids map[string]keyring.Serial) (any, error) {
		return ok(c.AdoptSession(ctx, ids["s"]))
	}},
}

// serialNames maps serials to the order they first appeared in, so that
// two stores, which pick serials at random, can be compared.
type serialNames map[keyring.Serial]string

func (m serialNames) name(id keyring.Serial) string {
	if id <= 0 {
		return id.String() // special ids and 0 mean the same everywhere
	}
	if n, ok := m[id]; ok {
		return n
	}
	n := fmt.Sprintf("#%d", len(m)+1)
	m[id] = n
	return n
}

// render is what a step's result looks like once serials are named.
func (m serialNames) render(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case keyring.Serial:
		return m.name(v)
	case []keyring.Serial:
		if v == nil {
			return "nil list"
		}
		names := make([]string, len(v))
		for i, id := range v {
			names[i] = m.name(id)
		}
		return "[" + strings.Join(names, " ") + "]"
	case keyring.Description:
		return v.String()
	case []byte:
		return fmt.Sprintf("%q", v)
	case keyring.StoreID:
		if v.UUID == uuid.Nil || v.History == uuid.Nil {
			return "no identity: " + v.String()
		}
		return "an identity" // each store has its own
	case []keyring.Change:
		// Revisions are each store's count, and not compared.
		lines := make([]string, len(v))
		for i, c := range v {
			if c.Destroyed {
				lines[i] = fmt.Sprintf("%s destroyed (%s %q)", m.name(c.Key), c.KeyType, c.KeyDescription)
				continue
			}
			lines[i] = fmt.Sprintf("%s %v %s (%s %q, %s %q)", m.name(c.Key), c.Subtype, m.name(c.Aux), c.KeyType, c.KeyDescription, c.AuxType, c.AuxDescription)
		}
		return "[" + strings.Join(lines, "; ") + "]"
	}
	return fmt.Sprintf("unexpected %T %v", v, v)
}

// runSteps runs callerSteps through c and says what each did: its
// errno, and on success its results. A failed call's other results mean
// nothing, on either side, so they are not compared.
func runSteps(t *testing.T, c keyring.Caller) []string {
	t.Helper()
	ctx := context.Background()
	ids := map[string]keyring.Serial{}
	names := serialNames{}
	var out []string
	for _, s := range callerSteps {
		v, err := s.do(ctx, c, ids)
		var errno unix.Errno
		switch {
		case err == nil:
			out = append(out, s.name+": ok "+names.render(v))
		case errors.As(err, &errno):
			out = append(out, s.name+": "+errno.Error())
		default:
			out = append(out, s.name+": no errno: "+err.Error())
		}
		if errno != s.want {
			t.Errorf("%s: errno %v (%v), want %v", s.name, errno, err, s.want)
		}
	}
	return out
}

// The same program, run on a store of its own and on the daemon, sees the
// same results: what makes its Caller is the only line that differs.
func TestCallerEmbeddedAndDaemon(t *testing.T) {
	// The embedded process has the credentials the daemon will learn from
	// the kernel for this test's connection.
	groups, err := os.Getgroups()
	if err != nil {
		t.Fatal(err)
	}
	cred := perms.Cred{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	for _, g := range groups {
		cred.Groups = append(cred.Groups, uint32(g))
	}

	store, err := keyring.Open(filepath.Join(t.TempDir(), "embedded.db"), keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	proc := store.Process(cred)
	t.Cleanup(func() {
		if err := proc.Release(context.Background()); err != nil {
			t.Errorf("Release: %v", err)
		}
		if err := store.Check(); err != nil {
			t.Errorf("embedded store inconsistent: %v", err)
		}
		store.Close()
	})

	var embedded keyring.Caller = proc
	var served keyring.Caller = newEnv(t, daemon.Options{}).dial(t)

	got, want := runSteps(t, served), runSteps(t, embedded)
	if len(got) != len(want) {
		t.Fatalf("daemon ran %d steps, embedded %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d:\n\tdaemon:   %s\n\tembedded: %s", i, got[i], want[i])
		}
	}
}
