//go:build linux

package keyring

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/perms"
)

// Limits on what callers pass, the kernel's.
const (
	MaxTypeNameLen    = 31        // bytes in a key type name
	MaxDescriptionLen = 4095      // bytes in a description
	MaxAddPayload     = 1<<20 - 1 // bytes: add_key's limit for any type
	MaxUpdatePayload  = 4096      // bytes: KEYCTL_UPDATE's limit (a page)
	MaxUserPayload    = 32767     // bytes in a user or logon payload
	MaxBigKeyPayload  = 1 << 20   // bytes in a big_key payload
	MaxSearchDepth    = 6         // keyrings nested below the one searched
	keyringLinkBytes  = 4         // quota bytes a keyring is charged per link (KEYQUOTA_LINK_BYTES)
	bigKeyQuotaBytes  = 16        // what a big_key payload is charged, whatever its size
)

// keyType is what differs between the key types this store supports.
type keyType struct {
	name        string
	readable    bool // KEYCTL_READ works (logon: EOPNOTSUPP)
	updatable   bool // add_key updates a matching key; KEYCTL_UPDATE works
	maxPayload  int  // bytes; 0 for keyrings, which take none
	vetDesc     func(desc string) error
	chargeBytes func(payloadLen int) uint32 // type's part of the quota bytes
}

var keyTypes = map[string]*keyType{
	"user": {name: "user", readable: true, updatable: true, maxPayload: MaxUserPayload,
		chargeBytes: func(n int) uint32 { return uint32(n) }},
	"logon": {name: "logon", readable: false, updatable: true, maxPayload: MaxUserPayload,
		vetDesc:     vetLogonDescription,
		chargeBytes: func(n int) uint32 { return uint32(n) }},
	"big_key": {name: "big_key", readable: true, updatable: true, maxPayload: MaxBigKeyPayload,
		chargeBytes: func(int) uint32 { return bigKeyQuotaBytes }},
	"keyring": {name: "keyring", readable: true,
		chargeBytes: func(int) uint32 { return 0 }},
	// An authority's key (authority.go): made by request_key only, read
	// for its callout information.
	authKeyType: {name: authKeyType, readable: true,
		chargeBytes: func(int) uint32 { return 0 }},
}

// vetLogonDescription: a logon key's description has a "service:" prefix.
func vetLogonDescription(desc string) error {
	if i := strings.IndexByte(desc, ':'); i <= 0 {
		return fmt.Errorf("keyring: logon key description %q has no \"service:\" prefix: %w", desc, unix.EINVAL)
	}
	return nil
}

// defaultMask is what add_key gives a new key of type t
// (key_create_or_update with KEY_PERM_UNDEF).
func (t *keyType) defaultMask() perms.Mask {
	pos := perms.View | perms.Search | perms.Link | perms.Setattr
	if t.readable {
		pos |= perms.Read
	}
	if t.name == "keyring" || t.updatable {
		pos |= perms.Write
	}
	return perms.NewMask(pos, perms.View, 0, 0)
}

// checkTypeName applies key_get_type_from_user's checks.
func checkTypeName(typ string) error {
	switch {
	case strings.IndexByte(typ, 0) >= 0:
		return errNUL("key type name", typ)
	case len(typ) == 0 || len(typ) > MaxTypeNameLen:
		return fmt.Errorf("keyring: key type name %q is not 1..%d bytes: %w", typ, MaxTypeNameLen, unix.EINVAL)
	case typ[0] == '.':
		return fmt.Errorf("keyring: key type %q is internal: %w", typ, unix.EPERM)
	}
	return nil
}

// checkNames applies the checks every call naming a key by type and
// description makes first: the type name's, then the description's.
func checkNames(typ, desc string) error {
	if err := checkTypeName(typ); err != nil {
		return err
	}
	return checkDescription(desc)
}

// checkDescription applies the limits on a description (or a session
// keyring's name) passed in.
func checkDescription(desc string) error {
	if strings.IndexByte(desc, 0) >= 0 {
		return errNUL("description", desc)
	}
	if len(desc) > MaxDescriptionLen {
		return fmt.Errorf("keyring: description of %d bytes, limit %d: %w", len(desc), MaxDescriptionLen, unix.EINVAL)
	}
	return nil
}

// errNUL refuses a string with a NUL byte, which the kernel's calls, taking
// C strings, cannot be given: Go's wrappers of them (golang.org/x/sys/unix,
// syscall) fail with EINVAL before the call, and C's would cut the string
// short. Stored, such a description would name a key no kernel client can
// name.
func errNUL(what, s string) error {
	return fmt.Errorf("keyring: %s %q holds a NUL byte: %w", what, s, unix.EINVAL)
}
