//go:build linux

package keystore_test

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

// recordSamples are records with every field set, the limits reached, and
// a restriction.
var recordSamples = []keystore.KeyRecord{
	{Serial: 3, Type: "user", Description: "x"},
	{Serial: 1<<31 - 1, Type: "keyring", Description: "_ses", UID: 1000, GID: 0xffffffff, Perm: 0x3f3f3f3f,
		Flags: keystore.FlagInQuota | keystore.FlagRestricted, Expiry: -5, CTime: 1 << 62, DataLen: 7, QuotaBytes: 33,
		Links: 2, Pins: 1, NextSeq: 1 << 40, Reject: 126, RestrictType: "asymmetric", Restriction: "key_or_keyring:123"},
	{Serial: 99, Type: "big_key", Description: string(bytes.Repeat([]byte("d"), keystore.MaxDescriptionLen)), Flags: keystore.FlagRestricted},
	{Serial: 100, Type: "user", Description: "", Restriction: "only\x00rule"},
	{Serial: 101, Type: "user", Description: "nul\x00inside, stored by an older version"},
	{Serial: 4, Type: "user", Description: "debug:x", Flags: keystore.FlagInQuota | keystore.FlagUnderConstruction, QuotaBytes: 8},
}

func TestKeyRecordRoundTrip(t *testing.T) {
	s := newSealer(t)
	for _, r := range recordSamples {
		b, err := s.SealRecord(&r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.OpenRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		if !keystore.SameRecord(got, &r) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
}

// TestKeyRecordRoundTripThroughTheStore stores the samples, closes the
// store, and reads them back from the file.
func TestKeyRecordRoundTripThroughTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	db, err := keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(context.Background(), func(tx *keystore.Tx) error {
		for _, r := range recordSamples {
			if err := tx.PutKey(&r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = keystore.Open(path, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *keystore.Tx) error {
		for _, want := range recordSamples {
			got, err := tx.Key(want.Serial)
			if err != nil || got == nil {
				t.Fatalf("key %d: %v", want.Serial, err)
			}
			if keyring := got.IsKeyring(); keyring {
				got.DataLen, got.QuotaBytes, got.NextSeq = want.DataLen, want.QuotaBytes, want.NextSeq // kept in the tally, which PutKey alone does not write
			}
			if !keystore.SameRecord(got, &want) {
				t.Errorf("read back:\n got %+v\nwant %+v", got, want)
			}
		}
		return nil
	})
}

func TestKeyRecordRejectsWhatCannotBeStored(t *testing.T) {
	s := newSealer(t)
	for name, r := range map[string]keystore.KeyRecord{
		"serial 2":            {Serial: 2, Type: "user"},
		"no type":             {Serial: 5},
		"type of 32 bytes":    {Serial: 5, Type: "abcdefghijabcdefghijabcdefghijab"},
		"NUL in type":         {Serial: 5, Type: "us\x00er"},
		"description 4096":    {Serial: 5, Type: "user", Description: string(make([]byte, 4096))},
		"mask bits past 0x3f": {Serial: 5, Type: "user", Perm: 0x40000000},
		"unknown flag":        {Serial: 5, Type: "user", Flags: 1 << 20},
	} {
		if _, err := s.SealRecord(&r); !errors.Is(err, keystore.ErrCorrupt) || !errors.Is(err, unix.EBADMSG) {
			t.Errorf("%s: SealRecord = %v, want ErrCorrupt", name, err)
		}
	}
}

// TestRecordHidesDescriptionAndRestriction: the stored record holds
// neither in clear, and two seals of one record differ (the nonce), so
// equal descriptions do not show as equal records.
func TestRecordHidesDescriptionAndRestriction(t *testing.T) {
	s := newSealer(t)
	r := keystore.KeyRecord{Serial: 7, Type: "keyring", Description: "krbtgt/EXAMPLE.COM@EXAMPLE.COM",
		Flags: keystore.FlagRestricted, RestrictType: "asymmetric", Restriction: "key_or_keyring:4242:chain"}
	a, err := s.SealRecord(&r)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{r.Description, "EXAMPLE", r.RestrictType, r.Restriction, "4242"} {
		if bytes.Contains(a, []byte(secret)) {
			t.Errorf("the record holds %q in clear: %q", secret, a)
		}
	}
	if !bytes.Contains(a, []byte("keyring")) {
		t.Error("the type is documented as kept in clear; the test is not looking at the record")
	}
	b, _ := s.SealRecord(&r)
	if bytes.Equal(a, b) {
		t.Error("two seals of one record are equal")
	}
}

// TestRecordBoundToItsKey: a record whose serial, type or hash is changed
// in clear, whose sealed part is damaged anywhere, or that is opened under
// another store's data key, is ErrCorrupt and yields no description.
func TestRecordBoundToItsKey(t *testing.T) {
	s := newSealer(t)
	r := keystore.KeyRecord{Serial: 0x01020304, Type: "user", Description: "svc-account@EXAMPLE.COM"}
	good, err := s.SealRecord(&r)
	if err != nil {
		t.Fatal(err)
	}
	typeAt := 1 + 4*9 + 8*4 + 1
	hashAt := typeAt + len(r.Type)
	sealedAt := hashAt + 16
	damaged := map[string][]byte{}
	flip := func(name string, at int) {
		b := bytes.Clone(good)
		b[at] ^= 0x01
		damaged[name] = b
	}
	flip("serial", 4)
	flip("type", typeAt)
	flip("hash", hashAt+3)
	for at := sealedAt; at < len(good); at++ {
		flip(fmt.Sprintf("sealed byte %d", at-sealedAt), at)
	}
	for name, b := range damaged {
		got, err := s.OpenRecord(b)
		if !errors.Is(err, keystore.ErrCorrupt) || got != nil {
			t.Errorf("%s changed: %+v, %v; want ErrCorrupt and nothing", name, got, err)
		}
	}
	other := newSealer(t)
	if got, err := other.OpenRecord(good); !errors.Is(err, keystore.ErrCorrupt) || got != nil {
		t.Errorf("under another data key: %+v, %v; want ErrCorrupt and nothing", got, err)
	}
}

// The keyed hashes are part of the format: a store's index is keyed by
// them, and a change to how they are computed would make every lookup in
// existing stores miss. They are checked against a reference written out
// flat, and pinned for the vector data key (testdata/v1).
func TestDescHashAsDocumented(t *testing.T) {
	v := readVectors(t)
	dataKey := vectorDataKey(t, v)
	s := newSealerFromKey(t, v.keyFile, dataKey)
	hashKey, err := hkdf.Key(sha256.New, dataKey, nil, "keyctl-go/keystore: description and name hash key, v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	ref := func(msg ...[]byte) string {
		m := hmac.New(sha256.New, hashKey)
		for _, b := range msg {
			m.Write(b)
		}
		return hex.EncodeToString(m.Sum(nil)[:16])
	}
	desc := s.HashDescription("user", "token")
	name := s.HashName(keystore.NameSession, "work")
	for _, c := range []struct{ what, got, ref, pinned string }{
		{"DescHash(user, token)", hex.EncodeToString(desc[:]), ref([]byte{'d', 4}, []byte("user"), []byte("token")), "56c69026189e308aabe64db849f518d1"},
		{"name (session, work)", hex.EncodeToString(name[:]), ref([]byte{'n', 'n'}, []byte("work")), "8d7d0f01ede78bf332b1a4fdb85b8eb8"},
	} {
		if c.got != c.ref || c.got != c.pinned {
			t.Errorf("%s = %s, reference %s, pinned %s", c.what, c.got, c.ref, c.pinned)
		}
	}
	if s.HashDescription("user", "token") == s.HashDescription("logon", "token") ||
		s.HashDescription("us", "ertoken") == s.HashDescription("user", "token") {
		t.Error("the type is not hashed apart from the description")
	}
}

// FuzzKeyRecord feeds arbitrary bytes to the decoder of the records of
// schemas 1 to 5, which upgrades still read: it must never panic, and what
// it accepts must encode back to the same bytes.
func FuzzKeyRecord(f *testing.F) {
	for _, r := range []keystore.KeyRecord{
		{Serial: 3, Type: "user", Description: "x", Perm: 0x3f010000, Links: 1},
		{Serial: 77, Type: "keyring", Description: "_uid.0", Flags: keystore.FlagRestricted, Restriction: "x", NextSeq: 4},
	} {
		b, _ := keystore.MarshalRecordV1(&r)
		f.Add(b)
	}
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := keystore.UnmarshalRecordV1(data)
		if err != nil {
			if !errors.Is(err, keystore.ErrCorrupt) {
				t.Fatalf("decoder error %v is not ErrCorrupt", err)
			}
			return
		}
		b, err := keystore.MarshalRecordV1(r)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("accepted % x, which encodes to % x (%v)", data, b, err)
		}
	})
}

// FuzzSealedRecord feeds arbitrary bytes to the stored record's decoder,
// under the vector data key: it must never panic, fail only with
// ErrCorrupt, and what it accepts must seal and open again to the same
// record. The seeds in testdata/fuzz are records sealed under that key,
// so that mutations of their clear part reach the checks behind the seal.
func FuzzSealedRecord(f *testing.F) {
	v := readVectors(f)
	s := newSealerFromKey(f, v.keyFile, vectorDataKey(f, v))
	f.Add([]byte{2})
	f.Add(make([]byte, 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := s.OpenRecord(data)
		if err != nil {
			if !errors.Is(err, keystore.ErrCorrupt) || r != nil {
				t.Fatalf("decoder = %+v, %v; want nothing and ErrCorrupt", r, err)
			}
			return
		}
		b, err := s.SealRecord(r)
		if err != nil {
			t.Fatalf("accepted %+v, which SealRecord refuses: %v", r, err)
		}
		again, err := s.OpenRecord(b)
		if err != nil || !keystore.SameRecord(again, r) {
			t.Fatalf("accepted %+v, which seals and opens to %+v (%v)", r, again, err)
		}
	})
}

// FuzzRecordSecrets feeds arbitrary plaintexts to the decoder of a
// record's sealed part, which the fuzzer cannot reach through a seal:
// what it accepts must encode back to the same bytes.
func FuzzRecordSecrets(f *testing.F) {
	for _, r := range recordSamples {
		f.Add(keystore.AppendRecordSecrets(nil, &r))
	}
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, plain []byte) {
		r := keystore.KeyRecord{Serial: 3, Type: "user"}
		if err := keystore.ReadRecordSecrets(&r, plain); err != nil {
			if !errors.Is(err, keystore.ErrCorrupt) {
				t.Fatalf("decoder error %v is not ErrCorrupt", err)
			}
			return
		}
		if b := keystore.AppendRecordSecrets(nil, &r); !bytes.Equal(b, plain) {
			t.Fatalf("accepted % x, which encodes to % x", plain, b)
		}
	})
}

// TestWriteRecordFuzzSeeds writes the seeds of FuzzSealedRecord and
// FuzzRecordSecrets that are missing, with -update: records sealed under
// the vector data key, which only a Sealer can make.
func TestWriteRecordFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("writes seeds only with -update")
	}
	v := readVectors(t)
	s := newSealerFromKey(t, v.keyFile, vectorDataKey(t, v))
	names := []string{"short", "keyring", "longest-description", "restriction-only", "nul-in-description", "under-construction"}
	for i, r := range recordSamples {
		sealed, err := s.SealRecord(&r)
		if err != nil {
			t.Fatal(err)
		}
		for dir, b := range map[string][]byte{"FuzzSealedRecord": sealed, "FuzzRecordSecrets": keystore.AppendRecordSecrets(nil, &r)} {
			path := filepath.Join("testdata/fuzz", dir, names[i])
			if _, err := os.Stat(path); err == nil {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b))
		}
	}
}

// The store keeps the descriptions it has opened, by key, so as not to
// decrypt an unchanged record again: a changed description, and one
// whose change was rolled back, must read as stored all the same.
func TestReadDescriptionIsTheStoredOne(t *testing.T) {
	db, _ := openTemp(t, keystore.Options{})
	ctx := context.Background()
	read := func() string {
		t.Helper()
		var desc string
		db.View(func(tx *keystore.Tx) error {
			r, err := tx.Key(5)
			if err != nil || r == nil {
				t.Fatalf("key 5: %v", err)
			}
			desc = r.Description
			return nil
		})
		return desc
	}
	putKey(t, db, &keystore.KeyRecord{Serial: 5, Type: "user", Description: "first", Pins: 1}, nil)
	if got := read(); got != "first" {
		t.Fatalf("read %q, want %q", got, "first")
	}
	putKey(t, db, &keystore.KeyRecord{Serial: 5, Type: "user", Description: "second", Pins: 1}, nil)
	if got := read(); got != "second" {
		t.Errorf("after a change, read %q, want %q", got, "second")
	}
	errRollBack := errors.New("roll back")
	err := db.Update(ctx, func(tx *keystore.Tx) error {
		if err := tx.PutKey(&keystore.KeyRecord{Serial: 5, Type: "user", Description: "rolled back", Pins: 1}); err != nil {
			return err
		}
		return errRollBack
	})
	if !errors.Is(err, errRollBack) {
		t.Fatal(err)
	}
	if got := read(); got != "second" {
		t.Errorf("after a rolled-back change, read %q, want %q", got, "second")
	}
}
