//go:build linux

package perms_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/perms"
)

func TestMaskDescribe(t *testing.T) {
	tests := []struct {
		mask perms.Mask
		want string
	}{
		// From keyctl describe on a default user key.
		{perms.DefaultUserKey, "alswrv-----v------------"},
		{perms.DefaultLogonKey, "alsw-v-----v------------"},
		{perms.DefaultSessionKeyring, "alswrv----rv------------"},
		{perms.DefaultNamedSessionKeyring, "alswrv-l--rv------------"},
		{perms.DefaultUserKeyring, "-lswrvalswrv------------"},
		{perms.DefaultPersistentKeyring, "-lswrv----rv------------"},
		{0, "------------------------"},
		{perms.AllMask, "alswrvalswrvalswrvalswrv"},
		{0x01020408, "-----v----r----w----s---"},
		{0x10200000, "-l----a-----------------"},
		{0xc0c0c0c0, "------------------------"}, // unknown bits are not shown
	}
	for _, tt := range tests {
		t.Run(tt.mask.String(), func(t *testing.T) {
			if got := tt.mask.Describe(); got != tt.want {
				t.Errorf("Describe = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMaskString(t *testing.T) {
	tests := []struct {
		mask perms.Mask
		want string
	}{
		{perms.DefaultUserKey, "0x3f010000"},
		{0, "0x00000000"},
		{0x3f, "0x0000003f"},
		{0xffffffff, "0xffffffff"},
	}
	for _, tt := range tests {
		if got := tt.mask.String(); got != tt.want {
			t.Errorf("Mask(%#x).String() = %q, want %q", uint32(tt.mask), got, tt.want)
		}
	}
}

func TestMaskClasses(t *testing.T) {
	m := perms.NewMask(perms.All, perms.View|perms.Read, perms.Search, perms.Setattr)
	if m != 0x3f030820 {
		t.Fatalf("NewMask = %v, want 0x3f030820", m)
	}
	if got := m.Possessor(); got != perms.All {
		t.Errorf("Possessor = %v, want %v", got, perms.All)
	}
	if got := m.User(); got != perms.View|perms.Read {
		t.Errorf("User = %v, want %v", got, perms.View|perms.Read)
	}
	if got := m.Group(); got != perms.Search {
		t.Errorf("Group = %v, want %v", got, perms.Search)
	}
	if got := m.Other(); got != perms.Setattr {
		t.Errorf("Other = %v, want %v", got, perms.Setattr)
	}
}

// TestDefaultMasks rebuilds each default from the rule the kernel uses, so
// a typo in a hex constant shows up as a disagreement with the rule.
func TestDefaultMasks(t *testing.T) {
	// add_key: possessor View, Search, Link, Setattr; +Read if the type
	// can be read; +Write if it is a keyring or can be updated. Owner View.
	addKey := func(readable, writable bool) perms.Mask {
		p := perms.View | perms.Search | perms.Link | perms.Setattr
		if readable {
			p |= perms.Read
		}
		if writable {
			p |= perms.Write
		}
		return perms.NewMask(p, perms.View, 0, 0)
	}
	tests := []struct {
		name string
		got  perms.Mask
		want perms.Mask
	}{
		{"user", perms.DefaultUserKey, addKey(true, true)},
		{"logon", perms.DefaultLogonKey, addKey(false, true)},
		{"big_key", perms.DefaultBigKey, addKey(true, true)},
		{"keyring", perms.DefaultKeyring, addKey(true, true)},
		{"thread keyring", perms.DefaultThreadKeyring, perms.NewMask(perms.All, perms.View, 0, 0)},
		{"process keyring", perms.DefaultProcessKeyring, perms.NewMask(perms.All, perms.View, 0, 0)},
		{"session keyring", perms.DefaultSessionKeyring, perms.NewMask(perms.All, perms.View|perms.Read, 0, 0)},
		{"named session keyring", perms.DefaultNamedSessionKeyring, perms.NewMask(perms.All, perms.View|perms.Read|perms.Link, 0, 0)},
		{"user keyring", perms.DefaultUserKeyring, perms.NewMask(perms.All&^perms.Setattr, perms.All, 0, 0)},
		{"persistent keyring", perms.DefaultPersistentKeyring, perms.NewMask(perms.All&^perms.Setattr, perms.View|perms.Read, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("default = %v, rule gives %v", tt.got, tt.want)
			}
			if err := tt.got.Validate(); err != nil {
				t.Errorf("default does not validate: %v", err)
			}
		})
	}
}

func TestMaskValidate(t *testing.T) {
	valid := []perms.Mask{0, perms.DefaultUserKey, perms.AllMask, 0x3f000000, 0x0000003f}
	for _, m := range valid {
		if err := m.Validate(); err != nil {
			t.Errorf("Mask(%v).Validate() = %v, want nil", m, err)
		}
	}
	invalid := []perms.Mask{0x40000000, 0x00800000, 0x00004000, 0x000000c0, 0xffffffff, perms.AllMask + 1}
	for _, m := range invalid {
		t.Run(m.String(), func(t *testing.T) {
			err := m.Validate()
			if !errors.Is(err, unix.EINVAL) {
				t.Fatalf("Validate() = %v, want an error unwrapping to EINVAL", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "perms: ") || !strings.Contains(msg, m.String()) {
				t.Errorf("error %q should start with \"perms: \" and name the mask %v", msg, m)
			}
		})
	}
}

func TestPermString(t *testing.T) {
	tests := []struct {
		perm perms.Perm
		want string
	}{
		{0, "none"},
		{perms.View, "view"},
		{perms.Search | perms.View, "search|view"},
		{perms.All, "setattr|link|search|write|read|view"},
		{perms.Read | 0xc0, "read|0xc0"},
	}
	for _, tt := range tests {
		if got := tt.perm.String(); got != tt.want {
			t.Errorf("Perm(%#02x).String() = %q, want %q", uint8(tt.perm), got, tt.want)
		}
	}
}
