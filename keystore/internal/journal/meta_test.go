//go:build linux

package journal

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bboltVersion is the version of go.etcd.io/bbolt this test binary was
// built with: the one go.mod requires.
func bboltVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "go.etcd.io/bbolt" {
				return dep.Version
			}
		}
	}
	return "(unknown)"
}

// TestBoltMetaPageLayout is the tripwire for what meta.go knows of
// bbolt's file format, which bbolt does not export: it makes a fresh file
// with the bbolt in go.mod, opened as the journal opens it, and reads both
// meta pages through our constants, checking each field against what
// bbolt's own API says. It fails the day bbolt changes its meta page, and
// the journal (checkpoints in the log's header, recovery by writing them
// back) must not be trusted with that bbolt until meta.go is brought up to
// date.
func TestBoltMetaPageLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fresh.db")
	bdb, _, err := openBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	for i := range 3 { // three commits: both slots written, the newest in either
		err := bdb.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put([]byte{byte(i)}, []byte("value"))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pageSize := bdb.Info().PageSize
	heads, err := readMetaHeads(f, pageSize)
	if err != nil {
		t.Fatal(err)
	}
	ne := binary.NativeEndian
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("bbolt %s: "+format, append([]any{bboltVersion()}, args...)...)
	}
	err = bdb.View(func(tx *bolt.Tx) error {
		txid := uint64(tx.ID())
		for slot, head := range heads {
			got, ps, ok := parseMetaHead(head)
			switch {
			case !ok:
				fail("meta page %d does not check: magic %#x (want %#x), version %d (want %d), checksum %#x",
					slot, ne.Uint32(head[boltMetaAt:]), boltMagic, ne.Uint32(head[boltMetaAt+4:]), boltVersion, ne.Uint64(head[boltChecksumAt:]))
				continue
			case ps != pageSize:
				fail("meta page %d says page size %d, bbolt says %d", slot, ps, pageSize)
			case got%2 != uint64(slot) || (got != txid && got != txid-1):
				fail("meta page %d says transaction %d; the newest is %d, written to page %d", slot, got, txid, txid%2)
			}
			if id := ne.Uint64(head); id != uint64(slot) {
				fail("meta page %d has page id %d", slot, id)
			}
			if flags := ne.Uint16(head[boltFlagsAt:]); flags != boltMetaPageFlag {
				fail("meta page %d has page flags %#x, want %#x", slot, flags, boltMetaPageFlag)
			}
		}
		newest := heads[txid%2]
		root := ne.Uint64(newest[boltRootAt:])
		if p, err := tx.Page(int(root)); err != nil || p == nil || (p.Type != "leaf" && p.Type != "branch") {
			fail("the root bucket's page %d is %+v (%v), want a leaf or branch page", root, p, err)
		}
		freelist := ne.Uint64(newest[boltFreelistAt:])
		if p, err := tx.Page(int(freelist)); err != nil || p == nil || p.Type != "freelist" {
			fail("the freelist page %d is %+v (%v), want the freelist", freelist, p, err)
		}
		if hw := ne.Uint64(newest[boltHighWaterAt:]); int64(hw)*int64(pageSize) != tx.Size() {
			fail("high water page %d, but the transaction's size is %d bytes (%d pages)", hw, tx.Size(), tx.Size()/int64(pageSize))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Nothing past the head: a checkpoint keeps only the head.
	page := make([]byte, pageSize)
	for slot := range boltMetaPageCount {
		if _, err := f.ReadAt(page, int64(slot*pageSize)); err != nil {
			t.Fatal(err)
		}
		for i, b := range page[metaHeadLen:] {
			if b != 0 {
				fail("meta page %d has byte %#x at %d, past the %d bytes a checkpoint keeps", slot, b, metaHeadLen+i, metaHeadLen)
				break
			}
		}
	}
}

// Writing an older meta page head into both slots, as recovery does,
// takes bbolt back to that transaction's state.
func TestBoltOpensTheRestoredMetaPage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fresh.db")
	bdb, _, err := openBolt(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	put := func(v string) {
		t.Helper()
		err := bdb.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put([]byte("k"), []byte(v))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("old")
	var old uint64
	bdb.View(func(tx *bolt.Tx) error { old = uint64(tx.ID()); return nil })
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pageSize := bdb.Info().PageSize
	heads, err := readMetaHeads(f, pageSize)
	if err != nil {
		t.Fatal(err)
	}
	head := heads[old%2]
	put("new")
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
	for slot := range boltMetaPageCount {
		if _, err := f.WriteAt(metaInSlot(head, slot), int64(slot*pageSize)); err != nil {
			t.Fatal(err)
		}
	}
	bdb, _, err = openBolt(path, time.Second)
	if err != nil {
		t.Fatalf("bbolt %s does not open the restored meta page: %v", bboltVersion(), err)
	}
	defer bdb.Close()
	bdb.View(func(tx *bolt.Tx) error {
		if got := tx.Bucket([]byte("b")).Get([]byte("k")); uint64(tx.ID()) != old || string(got) != "old" {
			t.Errorf("bbolt %s opens the restored meta page at transaction %d with k = %q, want %d and \"old\"", bboltVersion(), tx.ID(), got, old)
		}
		return nil
	})
}
