package keystore_test

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/keystore"
)

func TestKeyRecordRoundTrip(t *testing.T) {
	for _, r := range []keystore.KeyRecord{
		{Serial: 3, Type: "user", Description: "x"},
		{Serial: 4, Type: "user", Description: "debug:x", Flags: keystore.FlagInQuota | keystore.FlagUnderConstruction, QuotaBytes: 8},
		{Serial: 1<<31 - 1, Type: "keyring", Description: "_ses", UID: 1000, GID: 0xffffffff, Perm: 0x3f3f3f3f,
			Flags: keystore.FlagInQuota | keystore.FlagRestricted, Expiry: -5, CTime: 1 << 62, DataLen: 7, QuotaBytes: 33,
			Links: 2, Pins: 1, NextSeq: 1 << 40, Reject: 126, RestrictType: "asymmetric", Restriction: "key_or_keyring:123"},
		{Serial: 99, Type: "big_key", Description: string(bytes.Repeat([]byte("d"), keystore.MaxDescriptionLen)), Flags: keystore.FlagRestricted},
	} {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got keystore.KeyRecord
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if got != r {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
}

func TestKeyRecordRejectsWhatCannotBeStored(t *testing.T) {
	for name, r := range map[string]keystore.KeyRecord{
		"serial 2":            {Serial: 2, Type: "user"},
		"no type":             {Serial: 5},
		"type of 32 bytes":    {Serial: 5, Type: "abcdefghijabcdefghijabcdefghijab"},
		"NUL in type":         {Serial: 5, Type: "us\x00er"},
		"description 4096":    {Serial: 5, Type: "user", Description: string(make([]byte, 4096))},
		"mask bits past 0x3f": {Serial: 5, Type: "user", Perm: 0x40000000},
		"unknown flag":        {Serial: 5, Type: "user", Flags: 1 << 20},
	} {
		if _, err := r.MarshalBinary(); !errors.Is(err, keystore.ErrCorrupt) || !errors.Is(err, unix.EBADMSG) {
			t.Errorf("%s: MarshalBinary = %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzKeyRecord feeds arbitrary bytes to the key record decoder: it must
// never panic, and what it accepts must encode back to the same bytes.
func FuzzKeyRecord(f *testing.F) {
	for _, r := range []keystore.KeyRecord{
		{Serial: 3, Type: "user", Description: "x", Perm: 0x3f010000, Links: 1},
		{Serial: 77, Type: "keyring", Description: "_uid.0", Flags: keystore.FlagRestricted, Restriction: "x", NextSeq: 4},
	} {
		b, _ := r.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r keystore.KeyRecord
		if err := r.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, keystore.ErrCorrupt) {
				t.Fatalf("decoder error %v is not ErrCorrupt", err)
			}
			return
		}
		b, err := r.MarshalBinary()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("accepted % x, which encodes to % x (%v)", data, b, err)
		}
	})
}
