//go:build linux

package perms_test

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/perms"
)

func ExampleCheck() {
	// A user key root added and handed to uid 1000, group 1000, letting
	// the group read it.
	k := perms.Subject{UID: 1000, GID: 1000, Mask: perms.DefaultUserKey | perms.Mask(perms.View|perms.Read)<<perms.GroupShift}

	alice := perms.Cred{UID: 1001, GID: 100, Groups: []uint32{1000}}
	fmt.Println(perms.Check(alice, k, false, perms.Read))

	owner := perms.Cred{UID: 1000, GID: 1000}
	err := perms.Check(owner, k, false, perms.Read) // the owner byte is View only
	fmt.Println(errors.Is(err, unix.EACCES))
	fmt.Println(perms.Check(owner, k, true, perms.Read)) // unless it possesses the key
	// Output:
	// <nil>
	// true
	// <nil>
}

func ExampleMask_Describe() {
	fmt.Println(perms.DefaultUserKey.Describe())
	fmt.Println(perms.DefaultLogonKey.Describe())
	// Output:
	// alswrv-----v------------
	// alsw-v-----v------------
}

func ExampleEffectiveString() {
	root := perms.Cred{UID: 0, GID: 0}
	k := perms.Subject{UID: 0, GID: 0, Mask: perms.DefaultUserKey}
	fmt.Println(perms.EffectiveString(root, k))
	// Output: --alswrv
}

func ExampleParseMask() {
	for _, arg := range []string{"0x3f010000", "07700200000", "0x3f01000g"} {
		m, err := perms.ParseMask(arg)
		if errors.Is(err, perms.ErrUnparsable) {
			fmt.Printf("Unparsable permissions: '%s'\n", arg)
			continue
		}
		fmt.Println(m, m.Validate())
	}
	// Output:
	// 0x3f010000 <nil>
	// 0x3f010000 <nil>
	// Unparsable permissions: '0x3f01000g'
}
