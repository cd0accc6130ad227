//go:build linux

package keystore

import (
	"sync"
	"sync/atomic"
)

// The store remembers, per key, the sealed part of its record last opened
// or stored, with what it opens to, so that reading a record whose sealed
// part has not changed costs a comparison of its bytes instead of a
// decryption. The same sealed bytes, bound to the same serial, hash and
// type, always open to the same plaintext, so a match is as good as an
// opening; what a rolled-back write left here matches nothing stored, and
// costs one decryption.
//
// Lookups of the records read on every operation (keyrings walked by a
// search, the key being acted on) are what this saves: a decryption is
// about 0.3 µs, several of them per operation that the read cache in
// package keyring does not answer.

// maxSealedCache bounds the entries kept. Past it the cache is emptied and
// refills with what is read: simple, and a store read across more keys
// than this between two writes to each is rare.
const maxSealedCache = 1 << 16

// sealedCache is a DB's cache of opened sealed parts, by serial.
type sealedCache struct {
	parts sync.Map // uint32 serial → *sealedPart
	size  atomic.Int64
}

// openRecord is Sealer.openRecord through the cache.
func (db *DB) openRecord(b []byte) (*KeyRecord, error) {
	var known *sealedPart
	if serial, ok := recordSerial(b); ok {
		if v, ok := db.sealed.parts.Load(serial); ok {
			known = v.(*sealedPart)
		}
	}
	r, err := db.sealer.openRecord(b, known)
	if err != nil {
		return nil, err
	}
	if r.sealed != known {
		db.rememberSealed(r.sealed)
	}
	return r, nil
}

// rememberSealed keeps p as its key's sealed part.
func (db *DB) rememberSealed(p *sealedPart) {
	c := &db.sealed
	if _, loaded := c.parts.Swap(p.serial, p); !loaded && c.size.Add(1) > maxSealedCache {
		c.parts.Clear()
		c.size.Store(0)
	}
}

// forgetSealed drops what is kept for serial, a key being deleted.
func (db *DB) forgetSealed(serial uint32) {
	if _, loaded := db.sealed.parts.LoadAndDelete(serial); loaded {
		db.sealed.size.Add(-1)
	}
}
