//go:build linux

package krb5ring

import "errors"

// Errors when parsing a cache name. Each has the meaning of the MIT error
// code named beside it.
var (
	// ErrNotKeyring means the name does not start with "KEYRING:".
	ErrNotKeyring = errors.New("not a KEYRING cache name")

	// ErrInvalidAnchor means the anchor is none of persistent, user,
	// session, process, thread and legacy (KRB5_KCC_INVALID_ANCHOR).
	ErrInvalidAnchor = errors.New("unknown KEYRING anchor")

	// ErrInvalidUID means a persistent collection name is not a decimal
	// uid (KRB5_KCC_INVALID_UID).
	ErrInvalidUID = errors.New("persistent collection is not a uid")

	// ErrEmptySubsidiary means the name ends in a colon: a key cannot
	// have an empty description, so such a cache could never be made.
	ErrEmptySubsidiary = errors.New("empty cache (subsidiary) name")
)

// Errors when reading what the store holds.
var (
	// ErrNotFound means the cache keyring does not exist, or has no
	// default principal yet (MIT: "No credentials cache found").
	ErrNotFound = errors.New("no credentials cache found")

	// ErrUnknownVersion means krb_ccache:primary holds a version other
	// than 1 (KRB5_KCC_UNKNOWN_VERSION).
	ErrUnknownVersion = errors.New("unknown version of the primary cache pointer")

	// ErrCredNotFound means the cache holds no credential for that server
	// (KRB5_CC_NOTFOUND).
	ErrCredNotFound = errors.New("matching credential not found")

	// ErrFormat means a key's payload is not what MIT writes there: a
	// short primary pointer or time offset, or a principal or credential
	// that does not parse as exactly one version 4 record (KRB5_CC_FORMAT).
	ErrFormat = errors.New("bad format in credentials cache key")
)
