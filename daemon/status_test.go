//go:build linux

package daemon_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyring"
)

// A system daemon's status tells root about every uid, and anyone else
// about themselves alone: bob, asking while alice holds two connections
// and three watches, learns nothing of her, not even that she is there.
func TestStatusRowsByAsker(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system daemon's clients run as other uids")
	}
	d := startSystemDaemon(t, keyring.Options{})
	socket, storePath, store := d.socket, d.storePath, d.store
	bin := childBinary(t)

	// Alice: a connection with three watches, and a second one held,
	// both kept open while the others ask (records waits for a record
	// that never comes).
	alices := startScript(t, bin, socket, alice, alice,
		step{Op: "keyringid", Key: int32(keyring.UserKeyring)},
		step{Op: "add", Name: "a", Type: "user", Desc: "a", Payload: "x", Ring: int32(keyring.UserKeyring)},
		step{Op: "watch", Ref: "a", Tag: 1},
		step{Op: "watch", Key: int32(keyring.UserKeyring), Tag: 2},
		step{Op: "watch", Key: int32(keyring.UserSessionKeyring), Tag: 3},
		step{Op: "hold", N: 1},
		step{Op: "records", N: 1},
	)
	for _, op := range []string{"keyringid", "add", "watch", "watch", "watch", "hold"} {
		if o := alices.next(op); o.Errno != 0 {
			t.Fatalf("alice's %s: errno %d", op, o.Errno)
		}
	}

	bobs := startScript(t, bin, socket, bob, bob, step{Op: "status"})
	got := bobs.next("status").Status
	if got == nil {
		t.Fatal("bob's status step returned nothing")
	}
	if want := []daemon.UserStatus{{UID: bob, Conns: 1}}; !slices.Equal(got.Users, want) {
		t.Errorf("bob is told %+v; want his own row alone, %+v", got.Users, want)
	}
	if got.Socket != socket || got.Store != storePath || got.Private || got.Uptime <= 0 || got.Uptime > time.Minute {
		t.Errorf("bob is told socket %q, store %q, private %v, uptime %v; want %q, %q, false, and a little while",
			got.Socket, got.Store, got.Private, got.Uptime, socket, storePath)
	}

	// Root is told everyone's, its own connection included.
	c, err := daemon.Dial(context.Background(), socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []daemon.UserStatus{{UID: 0, Conns: 1}, {UID: alice, Conns: 2, Watches: 3}}
	if i := slices.IndexFunc(st.Users, func(u daemon.UserStatus) bool { return u.UID == bob }); i >= 0 {
		// bob's script may not have hung up yet.
		want = slices.Insert(want, 2, daemon.UserStatus{UID: bob, Conns: 1})
	}
	if !slices.Equal(st.Users, want) {
		t.Errorf("root is told %+v, want %+v", st.Users, want)
	}
	// The watches are the store's count, which the daemon reports as is.
	if n := store.Watches(alice); n != 3 {
		t.Errorf("the store counts %d watches of alice's, want 3", n)
	}
}
