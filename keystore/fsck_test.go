//go:build linux

package keystore_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// readFiles reads the store's database and log, to see that they did not
// change.
func readFiles(t *testing.T, path string) [2][]byte {
	t.Helper()
	var files [2][]byte
	for i, suffix := range []string{"", ".wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		files[i] = b
	}
	return files
}

// A crashed store whose log is whole: Inspect reports every record, no
// damage, and a Check that passes, and changes nothing.
func TestInspectCrashedStore(t *testing.T) {
	path, recs, _ := crashedStore(t, 30, 40)
	before := readFiles(t, path)
	r, err := keystore.Inspect(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.LogFormat != 3 || r.Checkpoint == 0 || len(r.Records) != 30 || r.Damage != nil || r.Check != nil || r.Damaged() {
		t.Fatalf("report: format %d, checkpoint %d, %d records, damage %+v, check %v; want format 3, a checkpoint, 30 records, no damage, a check that passes",
			r.LogFormat, r.Checkpoint, len(r.Records), r.Damage, r.Check)
	}
	for i, rec := range r.Records {
		if rec.Seq != uint32(i+1) || rec.Offset != int64(recs[i].at) || rec.Size != recs[i].size || rec.Synced != (i < 29) {
			t.Errorf("record %d reported as %+v; it is at %d, %d bytes", i+1, rec, recs[i].at, recs[i].size)
		}
	}
	if after := readFiles(t, path); !bytes.Equal(after[0], before[0]) || !bytes.Equal(after[1], before[1]) {
		t.Error("Inspect changed the store's files")
	}
}

// A damaged log: Inspect says where, what a repair keeps and drops, and
// checks the store as the repair would leave it; Repair then does exactly
// that, and the store opens with the changes before the damage.
func TestRepairKeepsTheRecordsBeforeTheDamage(t *testing.T) {
	path, recs, want := crashedStore(t, 40, 40)
	flipBit(t, path, recs[25].at+24+20)
	before := readFiles(t, path)
	r, err := keystore.Inspect(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := r.Damage
	if d == nil || !d.Corrupt || d.Offset != int64(recs[25].at) || len(r.Records) != 25 || len(d.Dropped) != 14 || !r.Damaged() {
		t.Fatalf("report: %d records, damage %+v; want 25 records, then damage at %d with 14 intact records after it", len(r.Records), d, recs[25].at)
	}
	if d.Dropped[0].Seq != 27 || !d.Dropped[0].Synced || d.Dropped[13].Synced || d.Proof == "" {
		t.Errorf("dropped %+v ... %+v, proof %q: want records 27 to 40, all but the last known synced, and the proof", d.Dropped[0], d.Dropped[13], d.Proof)
	}
	if r.Check != nil {
		t.Errorf("the store as a repair leaves it fails its check: %v", r.Check)
	}
	if after := readFiles(t, path); !bytes.Equal(after[0], before[0]) || !bytes.Equal(after[1], before[1]) {
		t.Fatal("Inspect changed the store's files")
	}

	if err := keystore.Repair(path, keystore.Options{}, r); err != nil {
		t.Fatal(err)
	}
	for serial := range want {
		if serial >= 1025 {
			want[serial] = nil
		}
	}
	wantKeys(t, path, want)
	again, err := keystore.Inspect(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Damaged() {
		t.Errorf("after the repair: damage %+v, check %v", again.Damage, again.Check)
	}
}

// Repair acts only on the log the caller was shown: a log that changed
// since it was inspected is left alone.
func TestRepairRefusesALogThatChanged(t *testing.T) {
	path, recs, _ := crashedStore(t, 40, 40)
	flipBit(t, path, recs[30].at+24+20)
	r, err := keystore.Inspect(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	flipBit(t, path, recs[10].at+24+20) // more damage, earlier
	before := readFiles(t, path)
	err = keystore.Repair(path, keystore.Options{}, r)
	if err == nil || !strings.Contains(err.Error(), "changed since it was inspected") {
		t.Fatalf("Repair of a log that changed: %v", err)
	}
	if after := readFiles(t, path); !bytes.Equal(after[0], before[0]) || !bytes.Equal(after[1], before[1]) {
		t.Fatal("a refused Repair changed the store's files")
	}
}

// Inspect takes the log's lock: it waits for the store's opener, and
// then says the store is in use.
func TestInspectWaitsForTheOpener(t *testing.T) {
	_, path := openTemp(t, keystore.Options{})
	_, err := keystore.Inspect(path, keystore.Options{LockTimeout: 100e6})
	if !errors.Is(err, keystore.ErrLocked) {
		t.Fatalf("Inspect of an open store: %v, want ErrLocked", err)
	}
	if err := keystore.Repair(path, keystore.Options{LockTimeout: 100e6}, &keystore.Report{}); !errors.Is(err, keystore.ErrLocked) {
		t.Fatalf("Repair of an open store: %v, want ErrLocked", err)
	}
}

// A damaged header in force cannot be salvaged from (its checkpoint is
// what the records apply to): Inspect says which records are lost, and
// Repair leaves a store that opens as its file is, with a log that never
// offers those records again.
func TestRepairAfterADamagedHeader(t *testing.T) {
	path, _, want := crashedStore(t, 20, 40)
	flipBit(t, path, 60) // the checkpoint's header, in slot 0
	r, err := keystore.Inspect(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Damage; d == nil || !d.Corrupt || d.Offset != 0 || len(r.Records) != 0 || len(d.Dropped) != 20 {
		t.Fatalf("report: %d records, damage %+v; want damage at byte 0 and the 20 records of its generation dropped", len(r.Records), d)
	}
	if err := keystore.Repair(path, keystore.Options{}, r); err != nil {
		t.Fatal(err)
	}
	for serial := range want {
		want[serial] = nil // the file is at the checkpoint, before them
	}
	wantKeys(t, path, want)
	wantKeys(t, path, want) // and again: the log was not left to refuse it
}
