//go:build linux

package kcm

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Cache names. A KCM cache name is the cache's subsidiary name in the
// uid's KEYRING collection (KEYRING:persistent:<uid>), unchanged: the
// default cache is "<uid>", which is also the collection's first cache
// for MIT's KEYRING type, and GEN_NEW makes "<uid>:<5 digits>". Caches
// made otherwise (keyctl-go krb5 import's krb_ccache_XXXXXXX) keep their
// names, so a client sees every cache of its collection.

// maxNameLen bounds a cache name, in bytes: a key description's limit
// (the kernel's, 4095), since the name is the cache keyring's description.
const maxNameLen = 4095

// errOtherUID means a cache name starts with another uid: a run of
// digits other than the caller's uid, followed by the end or a colon
// ("1001" or "1001:5" asked for by uid 1000). Such a name is refused as
// sssd-kcm refuses it: a cache to make is KRB5_FCC_INTERNAL (its answer to
// a name without the caller's uid in front), and a cache to read or
// destroy is one the caller has not got, KRB5_FCC_NOFILE ("Credentials
// cache 'KCM:1001' not found"). Names are looked up in the caller's own
// collection whatever they say; this keeps another user's cache names
// from ever naming a cache, even one the caller made by that name.
var errOtherUID = errors.New("kcm: the cache name starts with another uid")

// checkName refuses a name no cache of uid can have: empty or too long
// (KRB5_CC_BADNAME), or starting with another uid (errOtherUID).
func checkName(uid uint32, name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("kcm: cache name of %d bytes: %w", len(name), CodeBadName)
	}
	digits := len(name) - len(strings.TrimLeft(name, "0123456789"))
	if digits == 0 || (digits < len(name) && name[digits] != ':') {
		return nil
	}
	if name[:digits] != strconv.FormatUint(uint64(uid), 10) {
		return fmt.Errorf("kcm: cache %q of uid %d: %w", name, uid, errOtherUID)
	}
	return nil
}

// defaultName is the cache a uid's clients get when none is primary, as
// sssd-kcm names it.
func defaultName(uid uint32) string { return strconv.FormatUint(uint64(uid), 10) }

// genNewTries is how many random names GEN_NEW tries before giving up.
const genNewTries = 100

// newName is a random "<uid>:NNNNN" name, as sssd-kcm's GEN_NEW makes.
func newName(rnd io.Reader, uid uint32) (string, error) {
	var b [4]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", fmt.Errorf("kcm: random cache name: %w", err)
	}
	return fmt.Sprintf("%d:%05d", uid, binary.BigEndian.Uint32(b[:])%100000), nil
}

// randReader is the default source of GEN_NEW's names.
var randReader io.Reader = rand.Reader
