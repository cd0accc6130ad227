//go:build linux

package daemon_test

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// Every way to possession that a client names by serial or uid, tried by
// another user's process against alice's keyrings while her process holds
// them: adopting them as a session, pinning and unpinning them, joining
// her named session's name, her persistent keyring, linking her keyrings.
// The kernel gives none of it to bob, nor to root but by joining a
// session by name; alice's own next process gets back what she handed
// down.
func TestSystemModePossession(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the system daemon runs as root and its clients as other uids")
	}
	socket := startSystemDaemon(t, keyring.Options{}).socket
	bin := childBinary(t)

	alices := startScript(t, bin, socket, alice, alice,
		step{Op: "keyringid", Key: int32(keyring.UserKeyring)},
		step{Op: "add", Type: "user", Desc: "in @u", Payload: "alice's @u secret", Ring: int32(keyring.UserKeyring)},
		step{Op: "join", Desc: "work"},
		step{Op: "add", Type: "user", Desc: "in named", Payload: "alice's named secret", Ring: int32(keyring.SessionKeyring)},
		step{Op: "pin"},
		step{Op: "join"},
		step{Op: "add", Type: "user", Desc: "in anonymous", Payload: "alice's anonymous secret", Ring: int32(keyring.SessionKeyring)},
		step{Op: "pin"},
		step{Op: "keyringid", Key: int32(keyring.ProcessKeyring)},
		step{Op: "add", Type: "user", Desc: "in @p", Payload: "alice's @p secret", Ring: int32(keyring.ProcessKeyring)},
		step{Op: "keyringid", Key: int32(keyring.ThreadKeyring)},
		step{Op: "persistent", UID: keyring.OwnUID, Ring: int32(keyring.UserKeyring)},
		// She stays, holding her session, thread and process keyrings.
		step{Op: "records", N: 1},
	)
	type held struct {
		name      string
		ring, key int32
	}
	next := func(op string) int32 {
		t.Helper()
		o := alices.next(op)
		if o.Errno != 0 {
			t.Fatalf("alice's %s: %v", op, unix.Errno(o.Errno))
		}
		return o.Serial
	}
	userRing := next("keyringid")
	userKey := next("add")
	named := next("join")
	namedKey := next("add")
	next("pin")
	anon := next("join")
	anonKey := next("add")
	next("pin")
	procRing := next("keyringid")
	procKey := next("add")
	threadRing := next("keyringid")
	persistent := next("persistent")
	rings := []held{
		{"@u", userRing, userKey},
		{"named session", named, namedKey},
		{"anonymous session", anon, anonKey},
		{"@p", procRing, procKey},
		{"@t", threadRing, 0},
		{"persistent keyring", persistent, 0},
	}

	// Bob, and root as a client, try each of her keyrings.
	for _, who := range []struct {
		name string
		uid  uint32
	}{{"bob", bob}, {"root", 0}} {
		var steps []step
		for _, h := range rings {
			steps = append(steps, step{Op: "adopt", Key: h.ring}, step{Op: "unpin", Key: h.ring})
			if h.key != 0 {
				steps = append(steps, step{Op: "read", Key: h.key})
			}
			steps = append(steps, step{Op: "link", Key: h.ring, Ring: int32(keyring.SessionKeyring)})
		}
		steps = append(steps,
			step{Op: "persistent", UID: alice, Ring: int32(keyring.SessionKeyring)},
			step{Op: "join", Desc: "work"},
			step{Op: "pin"},
			step{Op: "keyringid", Key: int32(keyring.UserKeyring)},
		)
		s := startScript(t, bin, socket, who.uid, who.uid, steps...)
		for _, h := range rings {
			if o := s.next("adopt"); unix.Errno(o.Errno) != unix.EACCES {
				t.Errorf("%s adopting alice's %s: errno %v, want EACCES", who.name, h.name, unix.Errno(o.Errno))
			}
			if o := s.next("unpin"); unix.Errno(o.Errno) != unix.EACCES {
				t.Errorf("%s unpinning alice's %s: errno %v, want EACCES", who.name, h.name, unix.Errno(o.Errno))
			}
			if h.key != 0 {
				if o := s.next("read"); o.Errno == 0 {
					t.Errorf("%s read alice's key in her %s: %q", who.name, h.name, o.Data)
				}
			}
			if o := s.next("link"); unix.Errno(o.Errno) != unix.EACCES {
				t.Errorf("%s linking alice's %s into its session: errno %v, want EACCES", who.name, h.name, unix.Errno(o.Errno))
			}
		}
		o := s.next("persistent")
		if who.uid != 0 && unix.Errno(o.Errno) != unix.EPERM {
			t.Errorf("%s getting alice's persistent keyring: errno %v, want EPERM", who.name, unix.Errno(o.Errno))
		}
		if who.uid == 0 && (o.Errno != 0 || o.Serial != persistent) {
			// CAP_SETUID: root may, as in the kernel.
			t.Errorf("root getting alice's persistent keyring: %d, errno %v; want %d", o.Serial, unix.Errno(o.Errno), persistent)
		}
		if o := s.next("join"); o.Errno != 0 || o.Serial == named {
			t.Errorf("%s joining %q: %d, errno %v; alice's, which she did not open to Search, is %d",
				who.name, "work", o.Serial, unix.Errno(o.Errno), named)
		}
		if o := s.next("pin"); o.Errno != 0 {
			t.Errorf("%s pinning its own named session: %v", who.name, unix.Errno(o.Errno))
		}
		if o := s.next("keyringid"); o.Errno != 0 || o.Serial == userRing {
			t.Errorf("%s's @u is %d (errno %v); alice's is %d", who.name, o.Serial, unix.Errno(o.Errno), userRing)
		}
	}

	// Another process of alice's gets back what she handed down, with its
	// keys, and what the kernel would not have given her is refused her
	// too. Her pins survived the others' tries, so she can take them off.
	again := startScript(t, bin, socket, alice, alice,
		step{Op: "adopt", Key: anon},
		step{Op: "read", Key: anonKey},
		step{Op: "adopt", Key: named},
		step{Op: "read", Key: namedKey},
		step{Op: "adopt", Key: procRing},
		step{Op: "adopt", Key: threadRing},
		step{Op: "adopt", Key: userRing},
		step{Op: "adopt", Key: persistent},
		step{Op: "unpin", Key: anon},
		step{Op: "unpin", Key: named},
		step{Op: "unpin", Key: named},
	)
	for _, want := range []struct {
		op, what string
		errno    unix.Errno
		data     string
	}{
		{"adopt", "her anonymous session", 0, ""},
		{"read", "its key", 0, "alice's anonymous secret"},
		{"adopt", "her named session", 0, ""},
		{"read", "its key", 0, "alice's named secret"},
		{"adopt", "her other process's @p", unix.EACCES, ""},
		{"adopt", "her other process's @t", unix.EACCES, ""},
		{"adopt", "her @u", 0, ""},
		{"adopt", "her persistent keyring", unix.EACCES, ""},
		{"unpin", "her anonymous session", 0, ""},
		{"unpin", "her named session", 0, ""},
		// Its name held nothing: unpinned, and held by no process, it went.
		{"unpin", "her named session, gone with its last hold", unix.ENOKEY, ""},
	} {
		if o := again.next(want.op); unix.Errno(o.Errno) != want.errno || o.Data != want.data {
			t.Errorf("alice's %s of %s: %q, errno %v; want %q, %v", want.op, want.what, o.Data, unix.Errno(o.Errno), want.data, want.errno)
		}
	}
}
