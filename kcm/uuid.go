//go:build linux

package kcm

import (
	"encoding/binary"

	"github.com/google/uuid"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// UUIDs. KCM names caches and credentials by UUID in its listings. Here a
// UUID is derived from the serial of the key that holds the cache (its
// keyring) or the credential: a name-based UUID (version 5, SHA-1) of the
// serial, in a namespace of its own for each. The store keeps the serial
// for as long as the key lives, and never gives it to another key, so the
// UUID is stable while the cache or credential exists, the same after a
// restart, and never reused, with nothing more to store or to keep in
// step. A renewal through REPLACE keeps the cache keyring (it is cleared
// in place) and so the cache's UUID; the renewed credentials are new keys
// with new UUIDs, as they are new tickets. A UUID names nothing by itself:
// it is looked up among the caller's own caches only.

// Namespaces of the two kinds of UUID (random, fixed forever: changing one
// changes every UUID a client may hold).
var (
	cacheNamespace = uuid.MustParse("5b0f3f0e-8a53-4c1c-9d8e-2f4a7c1e6b90")
	credNamespace  = uuid.MustParse("c7d2a1b4-3e6f-4a8d-b5c9-0e1f2a3b4c5d")
)

func serialUUID(ns uuid.UUID, id keyring.Serial) uuid.UUID {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(id))
	return uuid.NewSHA1(ns, b[:])
}

// cacheUUID is the UUID of the cache whose keyring is ring.
func cacheUUID(ring keyring.Serial) uuid.UUID { return serialUUID(cacheNamespace, ring) }

// credUUID is the UUID of the credential held by key.
func credUUID(key keyring.Serial) uuid.UUID { return serialUUID(credNamespace, key) }
