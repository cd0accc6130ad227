//go:build linux

package perms_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/perms"
)

// The cast of the check tests: one key owned by ownerUID in keyGID, and
// callers in each relationship to it.
const (
	ownerUID = 1000
	keyGID   = 2000
)

var (
	owner          = perms.Cred{UID: ownerUID, GID: 100}
	ownerInGroup   = perms.Cred{UID: ownerUID, GID: keyGID}
	groupByGID     = perms.Cred{UID: 1001, GID: keyGID}
	groupBySupp    = perms.Cred{UID: 1002, GID: 100, Groups: []uint32{300, keyGID}}
	stranger       = perms.Cred{UID: 1003, GID: 100, Groups: []uint32{300}}
	root           = perms.Cred{UID: 0, GID: 0}
	overflowMember = perms.Cred{UID: 1004, GID: perms.OverflowGID}
)

func key(m perms.Mask) perms.Subject {
	return perms.Subject{UID: ownerUID, GID: keyGID, Mask: m}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		cred      perms.Cred
		key       perms.Subject
		possessed bool
		need      perms.Perm
		granted   bool
	}{
		{"owner gets the user byte", owner, key(0x00010000), false, perms.View, true},
		{"owner is refused what the user byte lacks", owner, key(0x00010000), false, perms.Read, false},
		{"owner is bound to the user byte when other grants more", owner, key(0x0000003f), false, perms.View, false},
		{"owner is bound to the user byte when also in the group", ownerInGroup, key(0x00003f00), false, perms.View, false},
		{"owner needs every bit asked for", owner, key(0x00030000), false, perms.View | perms.Read, true},
		{"owner is refused if one asked-for bit is missing", owner, key(0x00010000), false, perms.View | perms.Read, false},

		{"group member by primary gid gets the group byte", groupByGID, key(0x00000100), false, perms.View, true},
		{"group member by supplementary gid gets the group byte", groupBySupp, key(0x00000100), false, perms.View, true},
		{"group member is bound to a non-empty group byte", groupByGID, key(0x0000013e), false, perms.Read, false},
		{"group member by supplementary gid is bound too", groupBySupp, key(0x0000013e), false, perms.Read, false},
		{"empty group byte falls through to other", groupByGID, key(0x0000003f), false, perms.Read, true},
		{"empty group byte falls through for supplementary gid", groupBySupp, key(0x0000003f), false, perms.Read, true},
		{"group byte with only unknown bits counts as empty", groupByGID, key(0x0000c002), false, perms.Read, true},

		{"stranger gets the other byte", stranger, key(0x00000002), false, perms.Read, true},
		{"stranger does not get the group byte", stranger, key(0x3f3f3f00), false, perms.View, false},
		{"root is not special", root, key(0x3f3f3f00), false, perms.View, false},
		{"root gets the user byte of its own key", root, perms.Subject{UID: 0, GID: 0, Mask: 0x00010000}, false, perms.View, true},

		{"invalid gid grants its group byte to nobody", overflowMember,
			perms.Subject{UID: ownerUID, GID: perms.InvalidGID, Mask: 0x00000100}, false, perms.View, false},
		{"invalid gid falls through to other", overflowMember,
			perms.Subject{UID: ownerUID, GID: perms.InvalidGID, Mask: 0x00000102}, false, perms.Read, true},
		{"invalid gid is no group even for a caller claiming it",
			perms.Cred{UID: 1005, GID: perms.InvalidGID}, perms.Subject{UID: ownerUID, GID: perms.InvalidGID, Mask: 0x00000100}, false, perms.View, false},
		{"gid 65534 is a real group", overflowMember,
			perms.Subject{UID: ownerUID, GID: perms.OverflowGID, Mask: 0x00000100}, false, perms.View, true},

		{"possessor byte alone", stranger, key(0x3f000000), true, perms.All, true},
		{"possessor byte needs possession", stranger, key(0x3f000000), false, perms.View, false},
		{"possessor byte adds to the user byte", owner, key(0x02010000), true, perms.View | perms.Read, true},
		{"possessor byte adds to the group byte", groupByGID, key(0x02000100), true, perms.View | perms.Read, true},
		{"possessor byte adds to the other byte", stranger, key(0x02000001), true, perms.View | perms.Read, true},
		{"possession does not lift the user byte binding", owner, key(0x0100003e), true, perms.Read, false},

		{"mask bits outside AllMask are ignored", owner, key(0xc0c1c0c0), false, perms.Read, false},
		{"mask bits outside AllMask do not stop a grant", owner, key(0xc0c1c0c0), false, perms.View, true},

		{"default user key: possessor may do all", stranger, key(perms.DefaultUserKey), true, perms.All, true},
		{"default user key: owner may only view", owner, key(perms.DefaultUserKey), false, perms.Read, false},
		{"default logon key: possessor may not read", stranger, key(perms.DefaultLogonKey), true, perms.Read, false},
		{"default user keyring: possessor may not setattr", stranger, key(perms.DefaultUserKeyring), true, perms.Setattr, false},
		{"default user keyring: owner may setattr", owner, key(perms.DefaultUserKeyring), false, perms.Setattr, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := perms.Check(tt.cred, tt.key, tt.possessed, tt.need)
			checkAnswer(t, err, tt.granted)
		})
	}
}

// TestCheckEveryBit sets one bit in one class byte at a time and asks for
// exactly that bit from a caller in each relationship, with and without
// possession.
func TestCheckEveryBit(t *testing.T) {
	bits := []perms.Perm{perms.View, perms.Read, perms.Write, perms.Search, perms.Link, perms.Setattr}
	classes := []struct {
		name  string
		shift uint
		// gets reports whether a caller who possesses the key or not is
		// granted a bit set in this class byte alone.
		gets func(c perms.Cred, possessed bool) bool
	}{
		{"possessor", perms.PossessorShift, func(_ perms.Cred, possessed bool) bool { return possessed }},
		{"user", perms.UserShift, func(c perms.Cred, _ bool) bool { return c.UID == ownerUID }},
		{"group", perms.GroupShift, func(c perms.Cred, _ bool) bool { return c.UID != ownerUID && c.InGroup(keyGID) }},
		// The group byte is empty here, so group members fall through.
		{"other", perms.OtherShift, func(c perms.Cred, _ bool) bool { return c.UID != ownerUID }},
	}
	callers := []struct {
		name string
		cred perms.Cred
	}{
		{"owner", owner}, {"owner in group", ownerInGroup}, {"group by gid", groupByGID},
		{"group by supplementary gid", groupBySupp}, {"stranger", stranger}, {"root", root},
	}
	for _, bit := range bits {
		for _, class := range classes {
			m := perms.Mask(bit) << class.shift
			for _, caller := range callers {
				for _, possessed := range []bool{false, true} {
					name := fmt.Sprintf("%v/%s/%s/possessed=%t", bit, class.name, caller.name, possessed)
					t.Run(name, func(t *testing.T) {
						err := perms.Check(caller.cred, key(m), possessed, bit)
						checkAnswer(t, err, class.gets(caller.cred, possessed))
						for _, other := range bits {
							if other != bit {
								checkAnswer(t, perms.Check(caller.cred, key(m), possessed, other), false)
							}
						}
					})
				}
			}
		}
	}
}

func TestGranted(t *testing.T) {
	tests := []struct {
		name      string
		cred      perms.Cred
		key       perms.Subject
		possessed bool
		want      perms.Perm
	}{
		{"owner of default user key", owner, key(perms.DefaultUserKey), false, perms.View},
		{"possessing owner of default user key", owner, key(perms.DefaultUserKey), true, perms.All},
		{"group member", groupBySupp, key(0x00000a05), false, perms.Search | perms.Read},
		{"group member falling through", groupBySupp, key(0x00000005), false, perms.View | perms.Write},
		{"stranger possessing", stranger, key(0x10000001), true, perms.Link | perms.View},
		{"unknown bits dropped", stranger, key(0xffffffff), true, perms.All},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := perms.Granted(tt.cred, tt.key, tt.possessed); got != tt.want {
				t.Errorf("Granted = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckPanicsOnCallerBug(t *testing.T) {
	for _, need := range []perms.Perm{0, 0x40, perms.View | 0x80} {
		t.Run(fmt.Sprintf("need=%#02x", uint8(need)), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Check with need %#02x did not panic", uint8(need))
				}
			}()
			_ = perms.Check(owner, key(perms.AllMask), true, need)
		})
	}
}

func TestCheckErrorNamesTheRequest(t *testing.T) {
	err := perms.Check(stranger, key(perms.DefaultUserKey), false, perms.Read)
	if err == nil {
		t.Fatal("Check granted Read to a stranger on a default user key")
	}
	for _, want := range []string{"perms: ", "uid 1003", "read", "0x3f010000", "permission denied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestEffectiveString(t *testing.T) {
	tests := []struct {
		name string
		cred perms.Cred
		key  perms.Subject
		want string
	}{
		// The reference samples: root listing its own default keys.
		{"owner of default user key", root, perms.Subject{UID: 0, GID: 0, Mask: perms.DefaultUserKey}, "--alswrv"},
		{"owner of default session keyring", root, perms.Subject{UID: 0, GID: 0, Mask: perms.DefaultSessionKeyring}, "--alswrv"},

		{"possessor byte is added for a stranger", stranger, key(perms.DefaultUserKey), "--alswrv"},
		{"possessor byte is added for the owner", owner, key(0x08020000), "----s-r-"},
		{"user byte for the owner", owner, key(0x00210000), "--a----v"},
		{"owner in group still gets the user byte", ownerInGroup, key(0x00001f00), "--------"},
		{"group byte by primary gid", groupByGID, key(0x00000406), "-----w--"},
		{"group byte by supplementary gid", groupBySupp, key(0x00001006), "---l----"},
		{"empty group byte does not fall through", groupByGID, key(0x0000003f), "--------"},
		{"invalid gid skips the group byte", overflowMember,
			perms.Subject{UID: ownerUID, GID: perms.InvalidGID, Mask: 0x00000102}, "------r-"},
		{"overflow gid as describe prints it matches", overflowMember,
			perms.Subject{UID: ownerUID, GID: perms.OverflowGID, Mask: 0x00000102}, "-------v"},
		{"other byte", stranger, key(0x00003f3f), "--alswrv"},
		{"nothing", stranger, key(0), "--------"},
		{"unknown bits not shown", stranger, key(0xc0c0c0c1), "-------v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := perms.EffectiveString(tt.cred, tt.key); got != tt.want {
				t.Errorf("EffectiveString = %q, want %q", got, tt.want)
			}
		})
	}
}

// checkAnswer fails t unless err is nil when granted, and a "perms: " error
// unwrapping to EACCES when not.
func checkAnswer(t *testing.T, err error, granted bool) {
	t.Helper()
	switch {
	case granted && err != nil:
		t.Errorf("refused, want granted: %v", err)
	case !granted && err == nil:
		t.Errorf("granted, want refused")
	case !granted && !errors.Is(err, unix.EACCES):
		t.Errorf("error %v does not unwrap to EACCES", err)
	case !granted && !strings.HasPrefix(err.Error(), "perms: "):
		t.Errorf("error %q does not start with the package name", err)
	}
}
